"""The Bluesky HTTP Server's API, one method per endpoint (:class:`QueueServerAPI`), and the bodies
some of them send; :class:`~tether_qserver.client.QueueServer` adds what takes several calls
(run, submit, wait) on top, as docker-py's ``DockerClient`` sits on its ``APIClient``.

Wire facts these calls rely on (read in bluesky-httpserver's routers): every endpoint takes a
JSON body, GETs included; a refusal is HTTP 200 with ``success: false`` and ``msg``;
``GET /api/status`` is served from a 0.4 s cache unless the body is ``{"reload": true}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from tether.errors import CommandError, HttpError, Timeout, UsageError

from . import auth
from .credentials import Logins, auth_hint
from .plan import normalize_item
from .replies import check_reply

DEFAULT_TIMEOUT = 10.0


MAX_CALL_TIMEOUT = 30.0


#: what a refusal for a closed environment adds
OPEN_ENV_HINT = "open the environment first: tether qserver env open --wait (or run --open-env)"
METADATA_HINT = (
    "this HTTP server has no /api/re/metadata (bluesky-httpserver 0.0.14 and older); RE Manager answers"
    " it over its own 0MQ socket: tether qserver metadata --zmq tcp://HOST:60615 (tether scan lists it)"
)
#: Endpoints that take ``lock_key`` (the environment's and the queue's writes).
LOCKABLE = frozenset(
    {
        "/environment/open",
        "/environment/close",
        "/environment/destroy",
        "/queue/item/add",
        "/queue/item/execute",
        "/queue/item/add/batch",
        "/queue/item/update",
        "/queue/mode/set",
        "/queue/autostart",
        "/history/clear",
        "/environment/update",
        "/script/upload",
        "/function/execute",
        "/permissions/reload",
        "/permissions/set",
        "/kernel/interrupt",
        "/re/pause",
        "/queue/item/remove",
        "/queue/item/remove/batch",
        "/queue/item/move",
        "/queue/item/move/batch",
        "/queue/clear",
        "/queue/start",
        "/queue/stop",
        "/queue/stop/cancel",
        "/re/resume",
        "/re/stop",
        "/re/abort",
        "/re/halt",
    }
)


def item_add_body(
    item: Mapping[str, Any],
    *,
    pos: str | int | None = None,
    before_uid: str | None = None,
    after_uid: str | None = None,
    tag: bool = True,
) -> dict[str, Any]:
    """The exact body of ``POST /api/queue/item/add``; ``tag`` adds ``meta.client_request_id``."""
    item = normalize_item(item)
    if tag:
        meta = dict(item.get("meta") or {})
        meta.setdefault("client_request_id", f"tether-{uuid.uuid4()}")
        item["meta"] = meta
    body: dict[str, Any] = {"item": item}
    for key, value in (("pos", pos), ("before_uid", before_uid), ("after_uid", after_uid)):
        if value is not None:
            body[key] = value
    return body


def queue_mode(loop: bool | None = None, ignore_failures: bool | None = None, default: bool = False) -> Any:
    """The ``mode`` of ``/queue/mode/set``: ``"default"``, or the switches given."""
    mode: Any = (
        "default"
        if default
        else {k: v for k, v in (("loop", loop), ("ignore_failures", ignore_failures)) if v is not None}
    )
    if not mode or (default and (loop is not None or ignore_failures is not None)):
        raise UsageError(
            "queue mode: give --loop/--no-loop, --ignore-failures/--no-ignore-failures or --default"
        )
    return mode


def batch_destination(
    pos_dest: Any = None, before_uid: str | None = None, after_uid: str | None = None
) -> None:
    """Several items move to the front, the back, or before/after one uid: exactly one of them."""
    if sum(x is not None for x in (pos_dest, before_uid, after_uid)) != 1:
        raise UsageError("move needs exactly one destination: --to front|back, --before or --after")
    if pos_dest not in (None, "front", "back"):
        raise UsageError(f"several items move to the front or the back, not to {pos_dest!r}")


def api_path(method: str, path: str) -> tuple[str, str]:
    """``method`` upper-cased (GET/POST/DELETE/PUT) and ``path`` under ``/api`` (``/queue/get``)."""
    method = method.upper()
    if method not in ("GET", "POST", "DELETE", "PUT"):
        raise UsageError(f"the method must be GET, POST, DELETE or PUT, not {method!r}")
    path = "/" + path.strip().lstrip("/")
    path = path[4:] if path.startswith("/api/") else path
    if not path.strip("/") or any(c.isspace() for c in path):
        raise UsageError(f"not an API path: {path!r}")
    return method, path


_Self = TypeVar("_Self", bound="QueueServerAPI")


class QueueServerAPI(Logins):
    """The HTTP server's endpoints, one method each, and the plumbing they share (credentials,
    lock key, reply checks); :class:`~tether_qserver.client.QueueServer` is what people use.
    The constructor's options are :class:`~tether_qserver.client.QueueServer`'s."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        key_source: str = "the api_key argument",
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        retries: int = 2,
        lock_key: str | None = None,
        login: dict[str, Any] | None = None,
        transport: Any = None,
        login_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: what the stored login is filed under: the URL, or for a forward from an ssh:// host that
        #: host and the server's address there (a forward's local port changes; another app may get it)
        self.login_key = login_key or self.base_url
        self.timeout = timeout
        self._api_key = api_key or None
        self._secrets: list[str] = [api_key] if api_key else []
        self._login = None if api_key else login
        if self._login:
            self._secrets += [self._login["access_token"], self._login["refresh_token"]]
            key_source = f"the login of {self._login.get('username')} ({self._login.get('provider')})"
        self.key_source = key_source if api_key or self._login else "nowhere"
        self._http_options = {"timeout": timeout, "verify": verify, "cert": cert, "retries": retries}
        # ``transport``: another door with HttpSession's call() (RE Manager's 0MQ socket, zmq.ZmqDoor)
        self._transport = transport
        self.http = transport or self._new_http()
        self._verify = verify
        self._lock_key: str | None = None
        self.lock_key = lock_key
        self._lists: dict[str, tuple[str | None, Any]] = {}
        self._status_for_lists: tuple[float, dict] | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> dict:
        """Call ``/api<path>`` and return the reply; ``success: false`` raises :class:`CommandError`.

        With :attr:`lock_key` set, writes to locked parts carry it.
        """
        body = dict(body or {})
        if self.lock_key and path in LOCKABLE:
            body.setdefault("lock_key", self.lock_key)
        if self._login and auth.expiring(self._login):
            self.refresh()
        try:
            reply = self.http.call(method, f"/api{path}", body, timeout=timeout, retries=retries)
        except Timeout as exc:
            if exc.detail.get("status") == 408 and not exc.hint:
                exc.hint = "the HTTP server answers but RE Manager does not: is start-re-manager running?"
            raise
        reply = check_reply(path, reply)
        if reply.get("success") is False:
            msg = str(reply.get("msg") or "the request was refused")
            hint = OPEN_ENV_HINT if "environment does not exist" in msg.lower() else None
            what = path.lstrip("/")
            raise CommandError(f"the queue server refused {what}: {msg}", app_message=msg, hint=hint)
        return reply

    def _get(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> dict:
        return self.request("GET", path, body, **kw)

    def _post(self, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> dict:
        return self.request("POST", path, body, **kw)

    @staticmethod
    def _opt(**kw: Any) -> dict[str, Any]:
        return {k: v for k, v in kw.items() if v is not None}

    def _new_http(self) -> Any:
        """An HTTP session with the current credentials (a new login replaces the old session)."""
        from tether.transport.http import HttpSession

        if getattr(self, "_transport", None) is not None:
            return self._transport  # the 0MQ door has no HTTP credentials to renew
        if getattr(self, "http", None) is not None:
            self.http.close()
        return HttpSession(
            self.base_url,
            headers=self.auth_headers(),
            secrets=self._secrets,
            auth_hint=auth_hint(self.key_source),
            what="the Bluesky HTTP Server",
            **self._http_options,
        )

    @property
    def lock_key(self) -> str | None:
        """The lock key sent with writes to a locked queue/environment (masked in ``-v`` output)."""
        return self._lock_key

    @lock_key.setter
    def lock_key(self, key: str | None) -> None:
        self._lock_key = key or None
        if key:
            self.add_secret(key)

    def add_secret(self, secret: str | None) -> None:
        """Mask ``secret`` in every later log line, error and ``-v`` output."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self.http.add_secret(secret)

    @property
    def secrets(self) -> list[str]:
        """Every secret this client holds (API key, lock keys, tokens): what ``-v`` must mask."""
        return list(self._secrets)

    @property
    def door(self) -> str:
        """``"http"`` (the HTTP server) or ``"zmq"`` (RE Manager's own 0MQ control socket)."""
        return getattr(self.http, "door", "http")

    @property
    def api_key(self) -> str | None:
        """The key in use (for the stream module's WebSocket header). Never print it."""
        return self._api_key

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header (an API key, else a login's token); never print it."""
        if self._api_key:
            return {"Authorization": f"ApiKey {self._api_key}"}
        if self._login:
            return {"Authorization": f"Bearer {self._login['access_token']}"}
        return {}

    # -- status and environment -------------------------------------------------------------------
    def status(
        self, *, reload: bool = False, timeout: float | None = None, retries: int | None = None
    ) -> dict:
        """RE Manager's status dict. ``reload=True`` skips the server's 0.4 s cache."""
        return self._get("/status", {"reload": True} if reload else {}, timeout=timeout, retries=retries)

    def environment_open(self) -> dict:
        """Start opening the worker environment (returns at once; see :meth:`ensure_environment`)."""
        return self._post("/environment/open")

    def environment_close(self) -> dict:
        """Start closing the worker environment (see :meth:`close_environment` to wait)."""
        return self._post("/environment/close")

    def environment_destroy(self) -> dict:
        """Kill the worker environment (for a worker that no longer answers)."""
        return self._post("/environment/destroy")

    # -- queue --------------------------------------------------------------------------------------
    def queue_get(self, *, reload: bool = False) -> dict:
        """``{"items": [...], "running_item": {...}, "plan_queue_uid": ...}`` (``reload``: skip the
        server's status-keyed cache)."""
        return self._get("/queue/get", {"reload": True} if reload else {})

    def item_add(
        self,
        item: Mapping[str, Any],
        *,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Add one item (``pos`` "front"/"back"/index, or ``before_uid``/``after_uid``); returns the
        server's item, with its new ``item_uid``."""
        body = item_add_body(item, pos=pos, before_uid=before_uid, after_uid=after_uid, tag=False)
        return self._post("/queue/item/add", body)["item"]

    def item_add_batch(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> list[dict]:
        """Add several items, all or nothing."""
        body = self._opt(
            items=[normalize_item(i) for i in items], pos=pos, before_uid=before_uid, after_uid=after_uid
        )
        reply = check_reply(
            "/queue/item/add/batch", self.http.call("POST", "/api/queue/item/add/batch", body)
        )
        if not reply.get("success", True):
            errors = [r.get("msg") for r in reply.get("results", []) if not r.get("success")]
            msg = reply.get("msg") or "; ".join(e for e in errors if e) or "the batch was refused"
            raise CommandError(f"the queue server refused the batch: {msg}", app_message=msg)
        return reply["items"]

    def item_update(self, item: Mapping[str, Any], *, replace: bool | None = None) -> dict:
        """Change a queued item (``item`` carries its ``item_uid``); ``replace`` gives it a new uid."""
        if "item_uid" not in item:
            raise UsageError("item_update needs the item's item_uid")
        body = self._opt(item={**normalize_item(item), "item_uid": item["item_uid"]}, replace=replace)
        return self._post("/queue/item/update", body)["item"]

    def item_get(self, *, uid: str | None = None, pos: str | int | None = None) -> dict:
        """One queued item, by ``uid`` or ``pos``."""
        return self._get("/queue/item/get", self._opt(uid=uid, pos=pos))["item"]

    def item_remove(self, *, uid: str | None = None, pos: str | int | None = None) -> dict:
        """Remove one item (by ``uid`` or ``pos``; default the back of the queue)."""
        return self._post("/queue/item/remove", self._opt(uid=uid, pos=pos))["item"]

    def item_move(
        self,
        *,
        uid: str | None = None,
        pos: str | int | None = None,
        pos_dest: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Move one item (by ``uid`` or ``pos``) to ``pos_dest``, or before/after another uid."""
        if (uid is None) == (pos is None):
            raise UsageError("move needs exactly one of uid or pos")
        if sum(x is not None for x in (pos_dest, before_uid, after_uid)) != 1:
            raise UsageError("move needs exactly one destination: pos_dest, before_uid or after_uid")
        body = self._opt(uid=uid, pos=pos, pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid)
        return self._post("/queue/item/move", body)["item"]

    def queue_clear(self) -> dict:
        """Remove every queued item (the running one is not touched)."""
        return self._post("/queue/clear")

    def queue_start(self) -> dict:
        """Start the queue. A "busy" refusal while the queue is already executing counts as success."""
        try:
            return self._post("/queue/start")
        except CommandError as exc:
            if "busy" in (exc.app_message or "").lower():
                st = self.status(reload=True)
                if st.get("manager_state") in ("executing_queue", "starting_queue"):
                    return {"success": True, "msg": "the queue is already running"}
            raise

    def queue_stop(self) -> dict:
        """Ask the queue to stop after the running item."""
        return self._post("/queue/stop")

    def queue_stop_cancel(self) -> dict:
        """Cancel a pending :meth:`queue_stop`."""
        return self._post("/queue/stop/cancel")

    def queue_autostart(self, enable: bool) -> dict:
        """Start the queue by itself whenever it has items and the environment is open."""
        return self._post("/queue/autostart", {"enable": bool(enable)})

    # -- RunEngine ----------------------------------------------------------------------------------
    def re_pause(self, option: str = "deferred") -> dict:
        """Pause the running plan: ``deferred`` (at the next checkpoint) or ``immediate``."""
        if option not in ("deferred", "immediate"):
            raise UsageError("pause option must be deferred or immediate")
        return self._post("/re/pause", {"option": option})

    def re_resume(self) -> dict:
        """Resume the paused plan."""
        return self._post("/re/resume")

    def re_stop(self) -> dict:
        """End the paused plan as ``stopped`` (counts as success)."""
        return self._post("/re/stop")

    def re_abort(self) -> dict:
        """End the paused plan as ``aborted``."""
        return self._post("/re/abort")

    def re_halt(self) -> dict:
        """End the paused plan as ``halted``, without cleanup."""
        return self._post("/re/halt")

    # -- history ------------------------------------------------------------------------------------
    def history_get(self, *, reload: bool = False) -> dict:
        """``{"items": [...], "plan_history_uid": ...}``; each item has ``result``.

        The server answers from a cache keyed by its own status, which may be 0.4 s old;
        ``reload=True`` makes it refresh that first.
        """
        return self._get("/history/get", {"reload": True} if reload else {})

    def history_clear(self, *, size: int | None = None, item_uid: str | None = None) -> dict:
        """Clear the history (or keep the last ``size`` items, or drop up to ``item_uid``)."""
        return self._post("/history/clear", self._opt(size=size, item_uid=item_uid))

    # -- plans and devices (cached by the status *_uid fields) ---------------------------------------
    def _cached(self, kind: str, path: str, key: str, body: dict, status: Mapping[str, Any] | None) -> Any:
        uid = (status or self.status()).get(f"{key}_uid")
        hit = self._lists.get(kind)
        if hit is not None and uid is not None and hit[0] == uid:
            return hit[1]
        reply = self._get(path, body)
        self._lists[kind] = (reply.get(f"{key}_uid", uid), reply.get(key) or {})
        return self._lists[kind][1]

    def plans_allowed(self, *, reduced: bool = False, status: Mapping[str, Any] | None = None) -> dict:
        """Plans the user may run, by name (``reduced`` drops annotations, keeps types and defaults)."""
        return self._cached(
            f"plans_allowed:{reduced}",
            "/plans/allowed",
            "plans_allowed",
            {"reduced": reduced} if reduced else {},
            status,
        )

    def devices_allowed(self, *, status: Mapping[str, Any] | None = None) -> dict:
        """Devices the user may use, by name (cached until ``devices_allowed_uid`` changes)."""
        return self._cached("devices_allowed", "/devices/allowed", "devices_allowed", {}, status)

    def plans_existing(self, *, reduced: bool = False) -> dict:
        """Every plan the environment defines, by name."""
        return self._get("/plans/existing", {"reduced": reduced} if reduced else {})["plans_existing"]

    def devices_existing(self) -> dict:
        """Every device the environment defines, by name."""
        return self._get("/devices/existing")["devices_existing"]

    # -- locks --------------------------------------------------------------------------------------
    def lock(
        self, lock_key: str, *, environment: bool = False, queue: bool = False, note: str | None = None
    ) -> dict:
        """Lock the environment and/or the queue: others then need ``lock_key`` to change them."""
        if not (environment or queue):
            raise UsageError("lock the environment, the queue, or both")
        self.add_secret(lock_key)
        return self._post(
            "/lock", self._opt(lock_key=lock_key, environment=environment, queue=queue, note=note)
        )

    def unlock(self, lock_key: str) -> dict:
        """Remove the lock set with ``lock_key`` (or the emergency key)."""
        self.add_secret(lock_key)
        return self._post("/unlock", {"lock_key": lock_key})

    def lock_info(self, lock_key: str | None = None) -> dict:
        """The lock state (``environment``, ``queue``, ``note``, ``user``…); checks ``lock_key`` if given."""
        if lock_key:
            self.add_secret(lock_key)
        return self._get("/lock/info", self._opt(lock_key=lock_key))["lock_info"]

    # -- console ------------------------------------------------------------------------------------
    def console_text(self, nlines: int = 200) -> str:
        """The last ``nlines`` (at most 2000) of RE Manager's console."""
        return self._get("/console_output", {"nlines": max(1, min(int(nlines), 2000))}).get("text", "")

    def console_output_update(self, last_msg_uid: str = "ALL") -> dict:
        """New console messages since ``last_msg_uid`` (``"ALL"``: the whole buffer)."""
        return self._get("/console_output_update", {"last_msg_uid": last_msg_uid})

    def item_execute(self, item: Mapping[str, Any], *, tag: bool = True) -> dict:
        """Run ``item`` now, bypassing the queue (the manager must be idle, the environment open);
        returns the started item. It never enters the queue, not even when it fails."""
        return self._post("/queue/item/execute", item_add_body(item, tag=tag))["item"]

    # -- the rest of the API ------------------------------------------------------------------------
    def ping(self) -> dict:
        """RE Manager's answer to a ping (its status, in fact) through the HTTP server."""
        return self._get("/ping")

    def config_get(self) -> dict:
        """RE Manager's configuration (``{"config": {...}}``: addresses, startup profile …)."""
        return self._get("/config/get")

    def queue_mode_set(
        self, *, loop: bool | None = None, ignore_failures: bool | None = None, default: bool = False
    ) -> dict:
        """Change the queue mode: ``loop`` (finished items go to the back), ``ignore_failures``
        (go on past a failed plan), or ``default`` (both off)."""
        mode = queue_mode(loop, ignore_failures, default)
        return self._post("/queue/mode/set", {"mode": mode})

    def queue_upload(self, name: str, content: bytes, *, data_type: str | None = None) -> dict:
        """Add the plans of a spreadsheet (``name`` ends .xlsx or .csv) to the queue: the server
        converts it (its default converter, or a site's); each item's result is in ``results``."""
        if self.door == "zmq":  # a multipart upload has no 0MQ method: refused before sending
            from .zmq import HTTP_ONLY

            raise UsageError(HTTP_ONLY["/api/queue/upload/spreadsheet"])
        form = {"data_type": data_type} if data_type else {}
        files = {"spreadsheet": (name, content)}
        try:
            reply = self.http.call("POST", "/api/queue/upload/spreadsheet", form=form, files=files)
        except HttpError as exc:
            if exc.status in (404, 405):  # a server without the route
                exc.hint = "this server offers no spreadsheet upload: tether qserver add --file PLANS.csv"
            raise
        if not reply.get("success", True):
            errors = [r.get("msg") for r in reply.get("results", []) if not r.get("success")]
            msg = reply.get("msg") or "; ".join(e for e in errors if e) or "the spreadsheet was refused"
            raise CommandError(f"the queue server refused the spreadsheet: {msg}", app_message=msg)
        return reply

    def item_remove_batch(self, uids: list[str], *, ignore_missing: bool = False) -> dict:
        """Remove several items by uid, all or nothing (``ignore_missing``: skip unknown uids)."""
        return self._post("/queue/item/remove/batch", {"uids": list(uids), "ignore_missing": ignore_missing})

    def item_move_batch(
        self,
        uids: list[str],
        *,
        pos_dest: str | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
        reorder: bool | None = None,
    ) -> dict:
        """Move several items (by uid) to ``pos_dest`` (front/back) or before/after another uid."""
        batch_destination(pos_dest, before_uid, after_uid)
        body = self._opt(uids=list(uids), pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid)
        return self._post("/queue/item/move/batch", {**body, **self._opt(reorder=reorder)})

    def environment_update(self, *, run_in_background: bool | None = None) -> dict:
        """Reload the environment's lists of plans and devices from the worker (a task: ``task_uid``)."""
        return self._post("/environment/update", self._opt(run_in_background=run_in_background))

    def function_execute(
        self,
        name: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        run_in_background: bool = False,
    ) -> dict:
        """Run function ``name`` (one the startup code defines and the permissions allow) in the
        worker; returns ``task_uid`` (see :meth:`wait_for_task`)."""
        item = normalize_item({"name": name, "args": list(args), "kwargs": dict(kwargs or {})})
        item["item_type"] = "function"
        return self._post("/function/execute", {"item": item, "run_in_background": run_in_background})

    def script_upload(
        self,
        script: str,
        *,
        update_lists: bool = True,
        update_re: bool = False,
        run_in_background: bool = False,
    ) -> dict:
        """Run Python ``script`` in the worker (``update_lists``: its plans and devices become
        usable); returns ``task_uid`` (see :meth:`wait_for_task`)."""
        body = {"script": script, "update_lists": update_lists, "update_re": update_re}
        return self._post("/script/upload", {**body, "run_in_background": run_in_background})

    def task_status(self, task_uid: str | list[str]) -> dict:
        """``running``, ``completed`` or ``not_found`` (a dict by uid for a list of uids)."""
        return self._get("/task/status", {"task_uid": task_uid})

    def task_result(self, task_uid: str) -> dict:
        """The task's status and ``result`` (``success``, ``msg``, ``return_value``, ``traceback``)."""
        return self._get("/task/result", {"task_uid": task_uid})

    def permissions_get(self) -> dict:
        """The user group permissions in use (``user_group_permissions``)."""
        return self._get("/permissions/get")

    def permissions_set(self, permissions: Mapping[str, Any]) -> dict:
        """Replace the user group permissions (a dict with ``user_groups``, as in the YAML file)."""
        perms = (
            permissions.get("user_group_permissions", permissions)
            if isinstance(permissions, Mapping)
            else None
        )
        if not isinstance(perms, Mapping) or not isinstance(perms.get("user_groups"), Mapping):
            raise UsageError(
                "permissions must be a mapping with a 'user_groups' mapping (as in the YAML file)"
            )
        return self._post("/permissions/set", {"user_group_permissions": dict(perms)})

    def permissions_reload(
        self, *, restore_plans_devices: bool | None = None, restore_permissions: bool | None = None
    ) -> dict:
        """Reload the permissions (and, if asked, the lists of plans and devices) from disk."""
        body = self._opt(restore_plans_devices=restore_plans_devices, restore_permissions=restore_permissions)
        return self._post("/permissions/reload", body)

    def kernel_interrupt(
        self, *, interrupt_task: bool | None = None, interrupt_plan: bool | None = None
    ) -> dict:
        """Interrupt the worker's IPython kernel (only for a worker started as an IPython kernel)."""
        return self._post(
            "/kernel/interrupt", self._opt(interrupt_task=interrupt_task, interrupt_plan=interrupt_plan)
        )

    def manager_stop(self, *, safe: bool = True) -> dict:
        """Stop RE Manager for good (``safe=False``: even while the environment is open)."""
        return self._post("/manager/stop", {"option": "safe_on" if safe else "safe_off"})

    def manager_kill(self) -> dict:
        """The server's test endpoint: kill RE Manager's process (its watchdog restarts it). A killed
        manager never answers: the server's timeout is the expected reply."""
        try:
            return self._post("/test/manager/kill", timeout=min(self.timeout, 5.0))
        except Timeout:
            return {
                "success": True,
                "msg": "RE Manager did not answer, as a killed one does; its watchdog restarts it",
            }

    def re_runs(self, option: str = "active") -> dict:
        """The RunEngine's runs: ``active`` (all), ``open`` or ``closed`` (``run_list``)."""
        if option not in ("active", "open", "closed"):
            raise UsageError(f"runs are active, open or closed, not {option!r}")
        return self._get(f"/re/runs/{option}")

    def re_metadata(self) -> dict:
        """The RunEngine's metadata (``RE.md``). bluesky-httpserver 0.0.14 has no route for it (404):
        RE Manager answers it over its own 0MQ socket (``--zmq``), which the error's hint says."""
        try:
            return self._get("/re/metadata")
        except HttpError as exc:
            if exc.status == 404:
                exc.hint = METADATA_HINT
            raise

    def console_uid(self) -> str:
        """The uid of the console buffer's state (it changes with each new message)."""
        return self._get("/console_output/uid").get("console_output_uid", "")

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Any endpoint: ``method`` GET/POST/DELETE/PUT, ``path`` under ``/api`` (``/queue/get``);
        the reply as the server sent it (a ``success: false`` reply is returned, not raised)."""
        method, path = api_path(method, path)
        body = dict(body or {})
        if self.lock_key and path in LOCKABLE:
            body.setdefault("lock_key", self.lock_key)
        return self.http.call(method, f"/api{path}", body)

    # -- lifetime -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QueueServer({self.base_url!r}, api key from {self.key_source})"
