"""How queue items ended: :class:`RunResult` (one item, as history records it), :class:`RunResults`
(the items a run saw finish) and :class:`ItemFailed` (the error for a plan that did not end well)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tether.errors import CommandError

FINAL_OK = ("completed", "stopped")


@dataclass
class RunResult:
    """How a queue item ended: ``exit_status`` completed | stopped | failed | aborted | halted | unknown."""

    item_uid: str
    name: str
    exit_status: str
    run_uids: list[str] = field(default_factory=list)
    scan_ids: list[int] = field(default_factory=list)
    msg: str = ""
    traceback: str = ""
    time_start: float | None = None
    time_stop: float | None = None
    client_request_id: str | None = None
    #: after a failure the server pushes the item back to the queue front under a new uid
    requeued_uid: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_status in FINAL_OK

    @property
    def duration(self) -> float | None:
        if self.time_start is None or self.time_stop is None:
            return None
        return self.time_stop - self.time_start

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data, with ``ok`` and ``duration``."""
        return {**asdict(self), "ok": self.ok, "duration": self.duration}

    def summary(self) -> dict[str, Any]:
        """What people read: the fields that say something, and the duration in seconds."""
        shown = ("name", "item_uid", "exit_status", "run_uids", "scan_ids", "msg", "requeued_uid")
        out = {k: v for k, v in self.to_dict().items() if k in shown and v not in (None, "", [])}
        if self.duration is not None:
            out["duration"] = f"{self.duration:.2f} s"
        return out

    def notes(self) -> list[str]:
        """Remarks on a plan that did not end well: the traceback's tail, where the server put it back."""
        out = []
        if not self.ok and self.traceback:
            out.append("traceback (last lines):\n" + "\n".join(self.traceback.rstrip().splitlines()[-8:]))
        if not self.ok and self.requeued_uid:
            out.append(f"the server put the plan back at the queue's front as {self.requeued_uid}")
        return out

    def _repr_html_(self) -> str:
        """A table of the result's fields in a notebook, and a failed plan's traceback tail."""
        from html import escape

        rows = [("ok", self.ok), *self.summary().items()]
        html = _html_table(["field", "value"], [[k, v] for k, v in rows])
        if not self.ok and self.traceback:
            tail = "\n".join(self.traceback.rstrip().splitlines()[-8:])
            html += f"<pre>{escape(tail)}</pre>"
        return html

    @classmethod
    def from_history(cls, item: Mapping[str, Any]) -> RunResult:
        res = item.get("result") or {}
        return cls(
            item_uid=item.get("item_uid", ""),
            name=item.get("name", ""),
            exit_status=res.get("exit_status") or "unknown",
            run_uids=list(res.get("run_uids") or []),
            scan_ids=list(res.get("scan_ids") or []),
            msg=res.get("msg") or "",
            traceback=res.get("traceback") or "",
            time_start=res.get("time_start"),
            time_stop=res.get("time_stop"),
            client_request_id=(item.get("meta") or {}).get("client_request_id"),
        )


class RunResults(list):
    """The results of the plans that ran, in order (what :meth:`QueueServer.run_queue` returns):
    a list of :class:`RunResult`, shown as a table in a notebook."""

    def _repr_html_(self) -> str:
        heads = ["plan", "item uid", "exit status", "scan ids", "duration", "message"]
        return _html_table(
            heads,
            [
                [r.name, r.item_uid, r.exit_status, r.scan_ids, r.summary().get("duration"), r.msg]
                for r in self
            ],
        )


def _html_table(heads: list[str], rows: list[list[Any]]) -> str:
    """An HTML table, every cell escaped: plan names, messages and tracebacks are the server's text,
    never markup."""
    from html import escape

    def cell(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        return escape("" if value is None else str(value))

    left = ' style="text-align:left"'
    head = "".join(f"<th{left}>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td{left}>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class ItemFailed(CommandError):
    """A plan ended failed, aborted or halted. ``result`` is its :class:`RunResult`."""

    def __init__(self, result: RunResult) -> None:
        msg = f"{result.name} ({result.item_uid}) ended {result.exit_status}"
        super().__init__(msg, app_message=result.msg or None, result=result.to_dict())
        self.result = result
