"""The rows and columns of ``tether qserver``'s tables, from what the server answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUEUE = [("pos", "POS"), ("name", "PLAN"), ("args", "ARGS"), ("kwargs", "KWARGS"), ("item_uid", "ITEM UID"),
         ("state", "STATE")]  # fmt: skip
HISTORY = [("name", "PLAN"), ("args", "ARGS"), ("kwargs", "KWARGS"), ("exit_status", "EXIT STATUS"),
           ("scan_ids", "SCAN IDS"), ("item_uid", "ITEM UID"), ("msg", "MESSAGE")]  # fmt: skip
ADDED = [("name", "PLAN"), ("args", "ARGS"), ("kwargs", "KWARGS"), ("item_uid", "ITEM UID")]
RAN = [("name", "PLAN"), ("item_uid", "ITEM UID"), ("exit_status", "EXIT STATUS"), ("scan_ids", "SCAN IDS"),
       ("msg", "MESSAGE")]  # fmt: skip
RUNS = [("uid", "RUN UID"), ("is_open", "OPEN"), ("exit_status", "EXIT STATUS")]
PLANS = [("name", "PLAN"), ("description", "DESCRIPTION")]
PARAMETERS = ["name", "kind", "type", "default", "required", "description"]
DEVICES = [("name", "DEVICE"), ("class", "CLASS"), ("module", "MODULE")]
ENDPOINT = ["app", "version", "host", "port", "pid", "process", "confidence"]


def _first_line(text: str | None) -> str:
    return (text or "").split("\n")[0]


def queue_rows(reply: Mapping[str, Any]) -> list[dict]:
    """The running item (position ``-``) then the queued ones."""
    running = reply.get("running_item") or {}
    rows = [{**running, "pos": "-", "state": "running"}] if running else []
    return rows + [{**it, "pos": i, "state": "queued"} for i, it in enumerate(reply.get("items", []))]


def history_rows(items: list[dict]) -> list[dict]:
    """Each finished item with its result's exit status, scan ids and message."""
    keys = ("exit_status", "scan_ids", "msg")
    return [{**it, **{k: (it.get("result") or {}).get(k) for k in keys}} for it in items]


def plan_rows(plans: Mapping[str, Any]) -> list[dict]:
    return [{"name": n, "description": _first_line(p.get("description"))} for n, p in sorted(plans.items())]


def parameter_rows(plan: Mapping[str, Any]) -> list[dict]:
    """One plan's parameters: kind, type, default, whether required, first line of the description."""
    return [
        {
            "name": p["name"],
            "kind": (p.get("kind") or {}).get("name"),
            "type": p.get("type"),
            "default": p.get("default"),
            "required": not p.get("is_optional", False),
            "description": _first_line(p.get("description")),
        }
        for p in plan.get("parameters", [])
    ]


def device_rows(devices: Mapping[str, Any]) -> list[dict]:
    return [
        {"name": n, "class": d.get("classname"), "module": d.get("module")}
        for n, d in sorted(devices.items())
    ]
