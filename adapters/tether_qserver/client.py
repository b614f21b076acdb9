"""``QueueServer``: the Bluesky HTTP Server's client: the endpoints (:mod:`.endpoints`), and
on top what takes several calls: validate and submit, run and track, open the environment and wait.

>>> qs = tether.connect("qserver", api_key=key)                      # doctest: +SKIP
>>> qs.ensure_environment()                                          # doctest: +SKIP
>>> result = qs.run({"name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 3}})  # doctest: +SKIP
>>> result.exit_status, result.run_uids                              # doctest: +SKIP
('completed', ['21be7faf-…'])

The results (:mod:`.results`), credentials (:mod:`.credentials`) and reply shapes (:mod:`.replies`)
live in their own modules; their names are importable from here as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tether.errors import AuthError, CommandError, TetherError, Timeout, Unreachable, UsageError

from . import auth
from .credentials import KEY_SOURCES, auth_hint, read_api_key
from .endpoints import (
    DEFAULT_TIMEOUT,
    LOCKABLE,
    MAX_CALL_TIMEOUT,
    QueueServerAPI,
    api_path,
    batch_destination,
    item_add_body,
    queue_mode,
)
from .plan import normalize_item, validate_item
from .replies import REPLY_SHAPES, check_reply
from .results import FINAL_OK, ItemFailed, RunResult, RunResults

__all__ = [
    "DEFAULT_TIMEOUT", "FINAL_OK", "KEY_SOURCES", "LOCKABLE", "MAX_CALL_TIMEOUT", "REPLY_SHAPES",
    "STATUS_KEYS", "ItemFailed", "QueueServer", "RunResult", "RunResults", "api_path", "auth_hint",
    "batch_destination", "check_reply", "item_add_body", "queue_mode", "read_api_key",
]  # fmt: skip

#: The status fields ``tether qserver status`` and the environment commands report.
STATUS_KEYS = (
    "msg", "manager_state", "worker_environment_exists", "worker_environment_state", "re_state",
    "items_in_queue", "items_in_history", "running_item_uid", "queue_autostart_enabled",
    "queue_stop_pending", "pause_pending", "plan_queue_mode", "lock",
)  # fmt: skip


class QueueServer(QueueServerAPI):
    """A client of the Bluesky HTTP Server (``base_url`` may carry a path prefix).

    ``api_key``: sent as ``Authorization: ApiKey <key>``, never logged (see
    :func:`read_api_key`); ``timeout``: deadline per HTTP call; ``verify``/``cert``: TLS;
    ``lock_key``: the key of a lock set with :meth:`lock`, sent with the writes it guards.
    Use :meth:`from_endpoint` (what ``tether.connect("qserver")`` calls) or :meth:`from_url`.
    """

    @classmethod
    def from_endpoint(
        cls,
        endpoint: Any,
        *,
        url: str | None = None,
        api_key: str | None = None,
        api_key_file: str | None = None,
        insecure: bool = False,
        ca_bundle: str | None = None,
        timeout: float | None = None,
        zmq: str | None = None,
        zmq_public_key: str | None = None,
        zmq_info: str | None = None,
        **options: Any,
    ) -> QueueServer:
        """A client for a verified endpoint, from the adapter's settings: ``api_key``/``api_key_file``
        (:func:`read_api_key`), ``lock_key``, ``insecure``/``ca_bundle`` (TLS), ``timeout`` (the
        command deadline: each call gets at most 30 s of it); ``url`` is the one ``endpoint`` was
        verified from (kept in ``endpoint.extra``), else the endpoint's host and port are used."""
        base_url = endpoint.extra.get("base_url")
        if not base_url:
            host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
            base_url = f"http://{host}:{endpoint.port}"
        key, source = read_api_key(api_key, api_key_file)
        if endpoint.extra.get("ssh"):
            there = f"{endpoint.extra.get('remote_host', '127.0.0.1')}:{endpoint.extra.get('remote_port')}"
            options.setdefault("login_key", f"{endpoint.extra['ssh']} {there}")
        login_key = options.get("login_key") or base_url.rstrip("/")
        options.setdefault("login", None if key else auth.load(login_key))
        if timeout is not None:
            options["timeout"] = min(timeout, MAX_CALL_TIMEOUT)
        if endpoint.extra.get("door") == "zmq":  # RE Manager's own socket: see zmq.py
            from .zmq import ZmqDoor

            control = endpoint.extra["zmq_control"]
            info = zmq_info or endpoint.extra.get("zmq_info")
            door = ZmqDoor(
                control, public_key=zmq_public_key, info=info, timeout=options.get("timeout", 10.0)
            )
            return cls(control, timeout=door.timeout, transport=door, lock_key=options.get("lock_key"))
        options.setdefault("verify", False if insecure else (ca_bundle or True))
        return cls(base_url, api_key=key, key_source=source, **options)

    @classmethod
    def from_url(cls, url: str, *, probe_timeout: float = 2.0, **options: Any) -> QueueServer:
        """A client for the server at ``url`` (may carry https and a path prefix), after the probe
        proves it is the Bluesky HTTP Server; the other settings resolve as ``tether.connect``'s."""
        from tether import config

        from .probe import verify_url
        from .settings import SETTINGS

        endpoint = verify_url(url, probe_timeout)
        settings = config.resolve("qserver", SETTINGS, {"url": url, **options})
        settings.pop("host", None), settings.pop("port", None)
        return cls.from_endpoint(endpoint, **settings)

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, *, interval: float = 0.1) -> dict:
        """Poll status (uncached) until ``predicate(status)``; :class:`Timeout` otherwise."""
        end = time.monotonic() + timeout
        while True:
            st = self.status(reload=True)
            if predicate(st):
                return st
            if time.monotonic() >= end:
                raise Timeout(
                    f"the queue server did not reach the expected state within {timeout:g} s"
                    f" (manager_state {st.get('manager_state')})"
                )
            time.sleep(interval)

    def ensure_environment(self, timeout: float = 60.0) -> dict:
        """Open the environment unless it exists, wait, and check ``worker_environment_exists``.

        A failed open returns the manager to idle without an environment: that raises
        :class:`CommandError` whose ``console_tail`` detail holds the last console lines.
        """
        settled = ("idle", "executing_queue", "paused")
        st = self.status(reload=True)
        if st.get("manager_state") not in settled:  # opening, closing or starting: let it finish
            st = self.wait_for(lambda s: s.get("manager_state") in settled, timeout)
        if st.get("worker_environment_exists"):
            return st
        self.environment_open()
        st = self.wait_for(lambda s: s.get("manager_state") in settled, timeout)
        if not st.get("worker_environment_exists"):
            tail = self.console_text(40) if self.door == "http" else ""  # 0MQ: the manager keeps none
            raise CommandError(
                "the environment did not open (worker_environment_exists is false)",
                app_message=tail.strip()[-2000:] or None,
                hint="the console tail above says why; fix the startup code or install what it needs",
                console_tail=tail,
            )
        return st

    def close_environment(self, timeout: float = 60.0) -> dict:
        """Close the environment (if open) and wait for it to be gone."""
        st = self.status(reload=True)
        if st.get("worker_environment_exists"):
            self.environment_close()
        return self.wait_for(
            lambda s: not s.get("worker_environment_exists") and s.get("manager_state") == "idle", timeout
        )

    def summary(self, status: Mapping[str, Any] | None = None) -> dict:
        """The status fields people read (:data:`STATUS_KEYS`), from ``status`` or a fresh one."""
        st = status if status is not None else self.status(reload=True)
        return {k: st.get(k) for k in STATUS_KEYS}

    def environment(self, action: str, *, wait: bool = False, timeout: float = 60.0) -> dict:
        """``open``, ``close`` or ``destroy`` the environment; with ``wait``, wait until it is done
        (``open`` checks it exists: :meth:`ensure_environment`) and return :meth:`summary`."""
        if action not in ("open", "close", "destroy"):
            raise UsageError(f"the environment can be opened, closed or destroyed, not {action!r}")
        if action == "open" and wait:
            return self.summary(self.ensure_environment(timeout=timeout))
        reply = getattr(self, f"environment_{action}")()
        if not wait:
            return reply
        gone = self.wait_for(
            lambda s: not s.get("worker_environment_exists") and s.get("manager_state") == "idle", timeout
        )
        return self.summary(gone)

    def find_in_history(
        self, item_uid: str, *, history_uid: str | None = None, wait: float = 1.0
    ) -> RunResult | None:
        """The result of ``item_uid`` if it is in history (read fresh, not from the server's cache).

        ``history_uid``: the ``plan_history_uid`` a status just reported; while the reply's
        uid is not that one, history is asked again, for up to ``wait`` seconds.
        """
        end = time.monotonic() + wait
        while True:
            reply = self.history_get(reload=True)
            for item in reversed(reply.get("items", [])):
                if item.get("item_uid") == item_uid:
                    return RunResult.from_history(item)
            if history_uid is None or reply.get("plan_history_uid") == history_uid or time.monotonic() >= end:
                return None
            time.sleep(0.02)

    def plan_info(self, name: str, *, existing: bool = False) -> dict:
        """One plan's description and parameters (:class:`UsageError` naming the choices if unknown)."""
        plans = self.plans_existing(reduced=True) if existing else self.plans_allowed(reduced=True)
        if name not in plans:
            validate_item({"item_type": "plan", "name": name}, plans, [])
        return plans[name]

    #: How long a status read for validation is reused: the allowed lists change only when the
    #: environment opens or permissions reload, and the server validates again anyway.
    LIST_STATUS_TTL = 2.0

    def _recent_status(self) -> dict:
        now = time.monotonic()
        if self._status_for_lists is None or now - self._status_for_lists[0] > self.LIST_STATUS_TTL:
            self._status_for_lists = (now, self.status())
        return self._status_for_lists[1]

    def validate(self, item: Mapping[str, Any], *, status: Mapping[str, Any] | None = None) -> dict:
        """The item as it will be sent (a lone device where a list is expected made a one-item
        list), or :class:`UsageError` naming what is wrong (nothing is sent)."""
        item = normalize_item(item)
        st = status or self._recent_status()
        return validate_item(item, self.plans_allowed(status=st), self.devices_allowed(status=st))

    # -- submit and track ---------------------------------------------------------------------------
    def submit(
        self,
        item: Mapping[str, Any],
        *,
        validate: bool = True,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
    ) -> dict:
        """Validate, tag with ``meta.client_request_id``, and add; returns the server's item.

        Adds are never resent blindly: when the reply is lost (timeout, broken connection),
        the queue is searched for the tag, and the item found there is returned.
        """
        if validate:
            item = self.validate(item)
        body = item_add_body(item, pos=pos, before_uid=before_uid, after_uid=after_uid)
        try:
            return self._post("/queue/item/add", body)["item"]
        except (Timeout, Unreachable) as exc:
            if isinstance(exc, AuthError):
                raise
            landed = self._find_tagged(body["item"]["meta"]["client_request_id"])
            if landed is not None:
                return landed
            raise type(exc)(
                f"{exc.message}; the item is not in the queue, so it was not added",
                hint="check that the queue server runs, then add it again",
            ) from exc

    def add(
        self,
        items: list[Mapping[str, Any]],
        *,
        validate: bool = True,
        pos: str | int | None = None,
        before_uid: str | None = None,
        after_uid: str | None = None,
        where: list[str] | None = None,
    ) -> list[dict]:
        """Add ``items`` (all validated before the first is sent; several go as one batch).
        ``where``: each item's place in a file (``plans.csv:3``), named by the error of a bad one."""
        if validate:
            items = self.validate_many(items, where=where)
        place = {"pos": pos, "before_uid": before_uid, "after_uid": after_uid}
        if len(items) == 1:
            return [self.submit(items[0], validate=False, **place)]
        return self.item_add_batch(items, **place)

    def validate_many(self, items: list[Mapping[str, Any]], *, where: list[str] | None = None) -> list[dict]:
        """Every item as it will be sent (:meth:`validate`), or one :class:`UsageError` naming each
        bad item (``where``: its place, ``plans.csv:3``; else its number) and why: nothing is sent."""
        st = self._recent_status()
        out, bad = [], []
        for i, item in enumerate(items):
            try:
                out.append(self.validate(item, status=st))
            except UsageError as exc:
                place = where[i] if where and i < len(where) else f"item {i + 1}"
                bad.append(f"{place}: {exc.message}")
                last = exc
        if not bad:
            return out
        if len(bad) == 1:
            named = bad[0] if where or len(items) > 1 else last.message
            hint = f"nothing was added; {last.hint}" if where and last.hint else last.hint
            raise UsageError(named, hint=hint)
        raise UsageError(
            f"{len(bad)} of {len(items)} items are refused:\n  " + "\n  ".join(bad),
            hint="nothing was added; fix them and add again",
        )

    @staticmethod
    def progress_text(st: Mapping[str, Any]) -> str:
        """A status in a few words, for a progress line."""
        return (
            f"manager {st.get('manager_state')}, RE {st.get('re_state')}, "
            f"{st.get('items_in_queue')} queued, {st.get('items_in_history')} in history"
        )

    def _find_tagged(self, request_id: str) -> dict | None:
        try:
            reply = self.queue_get(reload=True)
        except (Timeout, Unreachable):
            return None
        items = [*reply.get("items", []), reply.get("running_item") or {}]
        return next((i for i in items if (i.get("meta") or {}).get("client_request_id") == request_id), None)

    def wait_for_item(
        self,
        item_uid: str,
        *,
        timeout: float = 600.0,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        lost_after: float = 10.0,
    ) -> RunResult:
        """Follow ``item_uid`` from the queue to history and return its :class:`RunResult`.

        Uses ``/api/status/ws`` (falling back to polling), rereading history when
        ``plan_history_uid`` changes. Raises :class:`Timeout` after ``timeout`` s and
        :class:`Unreachable` when RE Manager stops answering for ``lost_after`` s.
        """
        from .stream import track_item

        return track_item(
            self, item_uid, timeout=timeout, on_status=on_status, transport=transport, lost_after=lost_after
        )

    def start(
        self,
        item: Mapping[str, Any],
        *,
        queue: bool = False,
        open_env: bool = False,
        validate: bool = True,
        timeout: float = 120.0,
    ) -> dict:
        """Start ``item`` and return it at once: executed now (default), or (``queue``) added to
        the back of the queue, which is started unless it runs. A queue that cannot start takes
        the item back out: a run that does not start leaves nothing behind."""
        if validate:
            item = self.validate(item)
        if open_env:
            self.ensure_environment(timeout=timeout)
        if not queue:
            return self.item_execute(item)
        added = self.submit(item, validate=False)
        try:
            if self.status(reload=True).get("manager_state") == "idle":
                self.queue_start()
        except TetherError as exc:
            raise self._take_back(added["item_uid"], exc) from exc
        return added

    def _take_back(self, uid: str, why: TetherError) -> TetherError:
        """Remove ``uid`` from the queue again; ``why`` says what became of it."""
        try:
            self.item_remove(uid=uid)
            why.message += f"; item {uid} was removed from the queue again"
        except TetherError as exc:
            why.message += f"; item {uid} is still queued (removing it failed: {exc.message})"
        return why

    def run(
        self,
        item: Mapping[str, Any],
        *,
        queue: bool = False,
        open_env: bool = False,
        timeout: float = 600.0,
        validate: bool = True,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        raise_on_failure: bool = False,
    ) -> RunResult:
        """Run ``item`` and wait for its :class:`RunResult`.

        Default: executed now (``/queue/item/execute``), the queue neither started nor changed;
        a run that cannot start (manager busy, environment closed) adds nothing. ``queue=True``:
        through the queue, behind what is queued (:meth:`run_queue` reports those too).
        ``raise_on_failure`` raises :class:`ItemFailed` for failed/aborted/halted."""
        if queue:
            return self.run_queue(
                item, open_env=open_env, timeout=timeout, validate=validate, on_status=on_status,
                transport=transport, raise_on_failure=raise_on_failure,
            )[-1]  # fmt: skip
        from .stream import check_transport

        check_transport(transport)  # before anything is sent
        started = self.start(item, open_env=open_env, validate=validate, timeout=min(timeout, 120.0))
        return self._result(started, timeout, on_status, transport, raise_on_failure)

    def run_queue(
        self,
        item: Mapping[str, Any],
        *,
        open_env: bool = False,
        timeout: float = 600.0,
        validate: bool = True,
        on_status: Callable[[dict], None] | None = None,
        transport: str = "auto",
        raise_on_failure: bool = False,
    ) -> RunResults:
        """Add ``item`` to the back of the queue, start the queue (unless it runs) and wait for
        ``item``; the results of every item that ran meanwhile, ``item``'s last (a list). When the queue
        stops before reaching ``item`` (one ahead failed), ``item`` is taken back out and the
        :class:`CommandError` names what ran (``ran``)."""
        from .stream import check_transport

        check_transport(transport)
        before = {i.get("item_uid") for i in self.history_get(reload=True).get("items", [])}
        added = self.start(
            item, queue=True, open_env=open_env, validate=validate, timeout=min(timeout, 120.0)
        )
        try:
            mine = self._result(added, timeout, on_status, transport, raise_on_failure=False)
        except CommandError as exc:
            if exc.detail.get("item_uid") != added["item_uid"]:
                raise
            ran = self._ran_since(before)
            failed = [r for r in ran if not r.ok]
            if failed:
                exc.message = f"the queue stopped after {failed[-1].name} ({failed[-1].item_uid}) ended "
                exc.message += f"{failed[-1].exit_status}, before reaching {added['name']}"
            exc.detail["ran"] = [r.to_dict() for r in ran]
            raise self._take_back(added["item_uid"], exc) from None
        ran = [r for r in self._ran_since(before) if r.item_uid != mine.item_uid]
        if raise_on_failure and not mine.ok:
            raise ItemFailed(mine)
        return RunResults([*ran, mine])

    def _ran_since(self, before: set) -> list[RunResult]:
        items = self.history_get(reload=True).get("items", [])
        return [RunResult.from_history(i) for i in items if i.get("item_uid") not in before]

    def _result(
        self,
        started: Mapping[str, Any],
        timeout: float,
        on_status: Callable[[dict], None] | None,
        transport: str,
        raise_on_failure: bool,
    ) -> RunResult:
        uid = started["item_uid"]
        result = self.wait_for_item(uid, timeout=timeout, on_status=on_status, transport=transport)
        result.client_request_id = (started.get("meta") or {}).get("client_request_id")
        if not result.ok:
            result.requeued_uid = self._requeued_uid(result.client_request_id, uid)
            if raise_on_failure:
                raise ItemFailed(result)
        return result

    def _requeued_uid(self, request_id: str | None, old_uid: str) -> str | None:
        if not request_id:
            return None
        try:
            items = self.queue_get(reload=True).get("items", [])
        except (CommandError, Unreachable, AuthError):
            return None
        for it in items:
            if (it.get("meta") or {}).get("client_request_id") == request_id and it.get(
                "item_uid"
            ) != old_uid:
                return it["item_uid"]
        return None

    def wait_for_task(self, task_uid: str, timeout: float = 60.0, *, interval: float = 0.1) -> dict:
        """Poll :meth:`task_result` until the task is no longer running; a task that failed
        raises :class:`CommandError` with its message (``traceback`` in the detail)."""
        end = time.monotonic() + timeout
        while True:
            reply = self.task_result(task_uid)
            if reply.get("status") == "not_found":
                raise CommandError(f"RE Manager knows no task {task_uid}")
            if reply.get("status") != "running":
                result = reply.get("result") or {}
                if result.get("success") is False:
                    msg = result.get("msg") or "the task failed"
                    raise CommandError(
                        f"task {task_uid} failed: {msg}", app_message=msg, traceback=result.get("traceback")
                    )
                return reply
            if time.monotonic() >= end:
                raise Timeout(f"task {task_uid} did not finish within {timeout:g} s", task_uid=task_uid)
            time.sleep(interval)
