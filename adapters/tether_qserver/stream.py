"""Following the queue server live: status and console over its WebSockets, with polling as
the fallback, and :func:`track_item`, which follows one item from the queue to history.

``transport``: ``"auto"`` (WebSocket, falling back to polling when the server refuses the
handshake or a status socket stays silent), ``"ws"`` (WebSocket only) or ``"poll"``.
Status polls send ``{"reload": true}``: a plain ``GET /api/status`` may be 0.4 s stale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tether.deadline import Deadline
from tether.errors import AuthError, CommandError, Timeout, Unreachable, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from tether.transport.ws import WsConnection

    from .client import QueueServer, RunResult

log = logging.getLogger("tether.qserver.stream")

TRANSPORTS = ("auto", "ws", "poll")
STATUS_WS = "/api/status/ws"
CONSOLE_WS = "/api/console_output/ws"
#: The status socket sends at least once a second when RE Manager publishes; silence this long
#: means it does not (console publishing off) or RE Manager is gone.
WS_SILENCE = 2.5
POLL_INTERVAL = 0.1
CONSOLE_POLL_INTERVAL = 0.5


def check_transport(transport: str) -> None:
    """Refuse an unknown ``transport`` name (:class:`UsageError`)."""
    if transport not in TRANSPORTS:
        raise UsageError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")


def open_socket(qs: QueueServer, path: str, timeout: float = 5.0) -> WsConnection:
    """A WebSocket to ``path`` on the server, authenticated with the client's API key."""
    from tether.transport.ws import WsConnection, ws_url

    return WsConnection.open(
        ws_url(qs.base_url) + path,
        headers=qs.auth_headers(),
        deadline=Deadline(timeout),
        secrets=qs.secrets,
        sslopt=None
        if qs._verify is True
        else ({"cert_reqs": 0} if qs._verify is False else {"ca_certs": qs._verify}),
        what="the Bluesky HTTP Server",
    )


class StatusFeed:
    """Status dicts as RE Manager publishes them; :meth:`next` waits at most ``timeout`` s.

    Over the WebSocket a message comes at least once a second and on every change; when
    the socket is silent, closed or refused, :meth:`next` polls ``status`` instead (and in
    ``auto`` mode keeps polling if the socket never spoke). ``mode`` says which is in use.
    """

    def __init__(
        self, qs: QueueServer, transport: str = "auto", *, poll_interval: float = POLL_INTERVAL
    ) -> None:
        check_transport(transport)
        self.qs = qs
        self.transport = transport
        self.poll_interval = poll_interval
        # RE Manager's 0MQ door has no status stream to read: its status is polled (one 0MQ round trip)
        self.mode = "poll" if transport == "poll" or qs.door == "zmq" else "ws"
        self._ws: WsConnection | None = None
        self._heard = False
        self._last_poll = 0.0

    def _ensure_ws(self) -> WsConnection | None:
        from tether.errors import HandshakeRefused

        if self._ws is None and self.mode == "ws":
            try:
                self._ws = open_socket(self.qs, STATUS_WS, timeout=min(5.0, self.qs.timeout))
            except HandshakeRefused:
                if self.transport == "ws":
                    raise
                log.debug("status WebSocket refused: polling instead")
                self.mode = "poll"
        return self._ws

    def _poll(self, timeout: float) -> dict:
        wait = self._last_poll + self.poll_interval - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, timeout))
        self._last_poll = time.monotonic()
        return self.qs.status(reload=True, timeout=max(1.0, min(timeout, self.qs.timeout)), retries=0)

    def next(self, timeout: float) -> dict:
        """The next status (:class:`Timeout`/:class:`Unreachable` when the server does not answer)."""
        from tether.errors import Closed

        ws = self._ensure_ws()
        if ws is None:
            return self._poll(timeout)
        try:
            msg = ws.recv_json(Deadline(min(timeout, WS_SILENCE)))
        except Closed:
            self._drop()
            return self._poll(timeout)
        except Timeout:
            if not self._heard and self.transport == "auto":
                log.debug("status WebSocket silent: polling instead")
                self._drop()
                self.mode = "poll"
            return self._poll(timeout)
        status = (msg.get("msg") or {}).get("status") if isinstance(msg, dict) else None
        if not isinstance(status, dict):
            return self._poll(timeout)
        self._heard = True
        return status

    def _drop(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def close(self) -> None:
        """Close the WebSocket, if one is open."""
        self._drop()

    def __enter__(self) -> StatusFeed:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: The status fields ``status --follow`` reports when one of them changes.
FOLLOWED = ("manager_state", "re_state", "worker_environment_exists", "items_in_queue", "items_in_history",
            "running_item_uid")  # fmt: skip


def status_changes(qs: QueueServer, transport: str = "auto", duration: float | None = None) -> Iterator[dict]:
    """``{"time": ..., <FOLLOWED fields>}`` now and whenever one of them changes, for ``duration``
    seconds (None: forever)."""
    deadline = Deadline(duration) if duration is not None else None
    last = None
    with StatusFeed(qs, transport) as feed:
        while deadline is None or not deadline.expired:
            st = feed.next(5.0 if deadline is None else max(0.05, min(5.0, deadline.remaining())))
            now = {k: st.get(k) for k in FOLLOWED}
            if now != last:
                last = now
                yield {"time": time.time(), **now}


def status_line(change: dict) -> str:
    """One line of ``status --follow`` for people."""
    return (
        f"{time.strftime('%H:%M:%S', time.localtime(change['time']))} manager {change['manager_state']} · "
        f"RE {change['re_state']} · env {'open' if change['worker_environment_exists'] else 'closed'} · "
        f"queue {change['items_in_queue']} · history {change['items_in_history']} · "
        f"running {change['running_item_uid'] or '-'}"
    )


def track_item(
    qs: QueueServer,
    item_uid: str,
    *,
    timeout: float = 600.0,
    on_status: Callable[[dict], None] | None = None,
    transport: str = "auto",
    lost_after: float = 10.0,
) -> RunResult:
    """Follow ``item_uid`` until it is in history (see :meth:`QueueServer.wait_for_item`)."""
    from tether.errors import HandshakeRefused

    check_transport(transport)
    deadline = Deadline(timeout)
    history_uid: str | None = None
    last_ok = time.monotonic()
    state = "queued"
    with StatusFeed(qs, transport) as feed:
        st: dict | None = None
        try:  # bounded by lost_after too: a frozen server is reported within it, as documented
            st = qs.status(reload=True, retries=0, timeout=min(qs.timeout, lost_after))
        except (Timeout, Unreachable):
            st = None
        while True:
            if st is not None:
                last_ok = time.monotonic()
                if on_status is not None:
                    on_status(st)
                if st.get("running_item_uid") == item_uid:
                    state = "running"
                if st.get("plan_history_uid") != history_uid:
                    result = qs.find_in_history(item_uid, history_uid=st.get("plan_history_uid"))
                    if result is not None:
                        return result
                    history_uid = st.get("plan_history_uid")
                if st.get("manager_state") == "idle" and st.get("running_item_uid") is None:
                    result = _check_still_pending(qs, item_uid)
                    if result is not None:
                        return result
            if deadline.expired:
                raise Timeout(
                    f"item {item_uid} did not finish within {timeout:g} s (last seen {state})",
                    hint="it keeps running on the server; follow it with: tether qserver history",
                    item_uid=item_uid,
                )
            try:
                silent_for = time.monotonic() - last_ok
                st = feed.next(min(deadline.remaining(0.05), max(0.5, lost_after - silent_for)))
            except (Timeout, Unreachable) as exc:
                if isinstance(exc, (AuthError, HandshakeRefused)):  # transport="ws" and none offered
                    raise
                st = None
                if time.monotonic() - last_ok > lost_after:
                    raise Unreachable(
                        f"RE Manager stopped answering while waiting for item {item_uid} ({exc.message})",
                        hint="check that RE Manager runs; the item's fate is in history once it is back",
                        item_uid=item_uid,
                    ) from exc
                time.sleep(min(0.25, deadline.remaining()))


def _check_still_pending(qs: QueueServer, item_uid: str) -> RunResult | None:
    """The manager is idle and runs nothing: unless the item is in history (checked by the
    caller) it must still be queued, and an idle queue will not run it by itself."""
    st = qs.status(reload=True, retries=0)
    if st.get("manager_state") != "idle" or st.get("running_item_uid") is not None:
        return None
    result = qs.find_in_history(item_uid, history_uid=st.get("plan_history_uid"))
    if result is not None:
        return result
    items = qs.queue_get(reload=True).get("items", [])
    where = next((i for i, it in enumerate(items) if it.get("item_uid") == item_uid), None)
    if where is None:
        raise CommandError(f"item {item_uid} is neither queued, running nor in history (was it removed?)")
    if st.get("queue_autostart_enabled") and st.get("worker_environment_exists"):
        return None
    raise CommandError(
        f"the queue is stopped and item {item_uid} is still queued at position {where}",
        hint="start the queue (tether qserver start), after fixing what stopped it",
        item_uid=item_uid,
    )


# -- console ----------------------------------------------------------------------------------------
def follow_console(
    qs: QueueServer,
    *,
    transport: str = "auto",
    duration: float | None = None,
    interval: float = CONSOLE_POLL_INTERVAL,
) -> Iterator[str]:
    """Console text as RE Manager prints it, from now on, for ``duration`` s (None: forever).

    Over ``/api/console_output/ws`` when offered, else by polling ``console_output_update``.
    The socket is opened (or the poll's starting point taken) before this returns, so
    nothing printed after the call is missed.
    """
    from tether.errors import HandshakeRefused

    check_transport(transport)
    if qs.door == "zmq":  # RE Manager publishes its console on the info socket
        from .zmq import follow_console as follow_info

        return follow_info(qs.http.info, duration=duration)
    deadline = Deadline(duration) if duration is not None else None
    if transport != "poll":
        try:
            ws = open_socket(qs, CONSOLE_WS, timeout=min(5.0, qs.timeout))
        except HandshakeRefused:
            if transport == "ws":
                raise
            log.debug("console WebSocket refused: polling instead")
        else:
            return _console_ws(qs, ws, deadline)
    last = qs.console_output_update("ALL").get("last_msg_uid", "ALL")
    return _console_poll(qs, deadline, interval, last)


def console_lines(
    qs: QueueServer,
    *,
    lines: int = 10,
    follow: bool = False,
    transport: str = "auto",
    duration: float | None = None,
) -> Iterator[str]:
    """The console's last ``lines`` lines as one text, then (``follow``) each new message.

    The follow starts before the past is read, so nothing printed in between is lost."""
    check_transport(transport)
    if qs.door == "zmq" and not follow:
        qs.console_text(lines)  # RE Manager keeps no console buffer: the door says so (UsageError)
    stream = follow_console(qs, transport=transport, duration=duration) if follow else iter(())
    past = qs.console_text(lines).rstrip("\n") if lines > 0 and qs.door == "http" else ""  # 0MQ: no buffer
    if past:
        yield past
    yield from stream


def _console_ws(qs: QueueServer, ws: WsConnection, deadline: Deadline | None) -> Iterator[str]:
    """Messages from the console socket; a socket the server closes is opened again."""
    from tether.errors import Closed

    try:
        while deadline is None or not deadline.expired:
            try:
                msg = ws.recv_json(Deadline(1.0) if deadline is None else deadline.cap(1.0))
            except Timeout:
                continue
            except Closed:
                log.debug("console WebSocket closed by the server: reconnecting")
                ws.close()
                time.sleep(0.5)
                ws = open_socket(qs, CONSOLE_WS, timeout=min(5.0, qs.timeout))
                continue
            if isinstance(msg, dict) and isinstance(msg.get("msg"), str):
                yield msg["msg"]
    finally:
        ws.close()


def _console_poll(qs: QueueServer, deadline: Deadline | None, interval: float, last: str) -> Iterator[str]:
    while deadline is None or not deadline.expired:
        time.sleep(interval if deadline is None else max(0.0, min(interval, deadline.remaining())))
        reply = qs.console_output_update(last)
        for msg in reply.get("console_output_msgs") or []:
            if isinstance(msg, dict) and isinstance(msg.get("msg"), str):
                yield msg["msg"]
        last = reply.get("last_msg_uid") or last
