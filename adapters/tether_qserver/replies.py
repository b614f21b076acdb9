"""What the queue server's replies must look like: a reply is data from outside, checked before use."""

from __future__ import annotations

from typing import Any

from tether.errors import ProtocolError

# -- reply shapes: replies are data from outside, checked before use ---------------------------------
_ITEMS, _BY_NAME, _PLANS = "a list of objects", "an object of objects", "plans by name"
#: what a successful reply to ``/api<path>`` must hold: key -> (expected, required)
REPLY_SHAPES: dict[str, dict[str, tuple[Any, bool]]] = {
    "/status": {"manager_state": (str, True)},
    "/queue/get": {"items": (_ITEMS, True), "running_item": (dict, False)},
    "/history/get": {"items": (_ITEMS, True)},
    "/queue/item/add/batch": {"items": (_ITEMS, True)},
    "/plans/allowed": {"plans_allowed": (_PLANS, True)},
    "/plans/existing": {"plans_existing": (_PLANS, True)},
    "/devices/allowed": {"devices_allowed": (dict, True)},
    "/devices/existing": {"devices_existing": (dict, True)},
    "/lock/info": {"lock_info": (dict, True)},
    "/console_output": {"text": (str, True)},
    **{p: {"item": (dict, True)} for p in ("/queue/item/add", "/queue/item/update", "/queue/item/get")},
    **{p: {"item": (dict, True)} for p in ("/queue/item/remove", "/queue/item/move")},
}
_NAMES = {str: "a string", dict: "an object", list: "a list", _PLANS: "plan descriptions by name"}


def check_reply(path: str, reply: Any) -> dict:
    """``reply`` if it has the shape :data:`REPLY_SHAPES` gives for ``path``, else :class:`ProtocolError`
    naming what was expected (a reply is data from outside: never trusted to be what we think)."""
    if not isinstance(reply, dict):
        raise ProtocolError(
            f"the queue server answered {path.lstrip('/')} with {_kind(reply)},"
            " where a JSON object was expected"
        )
    if reply.get("success") is False:
        return reply
    for key, (expected, required) in REPLY_SHAPES.get(path, {}).items():
        if key not in reply or (reply[key] is None and not required):
            if required:
                raise ProtocolError(f"the queue server's reply to {path.lstrip('/')} has no {key!r}")
            continue
        value = reply[key]
        if expected == _ITEMS:
            ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        elif expected in (_BY_NAME, _PLANS):
            ok = isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
            if ok and expected == _PLANS:
                ok = all(_plan_ok(v) for v in value.values())
        else:
            ok = isinstance(value, expected)
        if not ok:
            raise ProtocolError(
                f"the queue server's reply to {path.lstrip('/')} has {key!r} as {_kind(value)},"
                f" where {_NAMES.get(expected, expected)} was expected"
            )
    return reply


def _plan_ok(plan: dict) -> bool:
    """A plan description: ``parameters`` (when given) a list of objects, each with a string
    ``name`` and, when given, an object ``kind`` whose ``value`` is one of inspect's five kinds (0-4)."""
    params = plan.get("parameters", [])
    return isinstance(params, list) and all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and _kind_ok(p.get("kind", {})) for p in params
    )


def _kind_ok(kind: Any) -> bool:
    if not isinstance(kind, dict):
        return False
    value = kind.get("value", 1)
    return type(value) is int and 0 <= value <= 4


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
