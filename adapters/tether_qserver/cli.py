"""`tether qserver …`: commands for the Bluesky HTTP Server. Thin: parse, call the client, render.

Every command takes ``--host/--port`` (or ``--url`` for a scheme or path prefix),
``--timeout``, ``--json``, the API key options and ``-v``; they are added by :func:`command`.
requests and websocket-client are imported only when a command runs.
"""

import functools
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from tether.cli import render
from tether.cli.common import HostOpt, JsonOpt, PortOpt, TimeoutOpt, find_endpoint
from tether.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Drive the Bluesky HTTP Server (submit, run and track plans).")
env_app = typer.Typer(no_args_is_help=True, help="Open, close or destroy the worker environment.")
app.add_typer(env_app, name="env")

PLAN_HELP = (
    "The plan: shorthand NAME ARG... KEY=VALUE (values are JSON or Python literals; a bare a,b is a list, "
    'so count det1,det2 num=3 equals count \'["det1","det2"]\' num=3, and det1, is a one-item list), '
    'a whole item as JSON/Python literal (\'{"name": "count", ...}\'), '
    "or @file.json / @file.yaml / @- (stdin)."
)
QUEUE_COLUMNS = [
    ("pos", "POS"),
    ("name", "PLAN"),
    ("args", "ARGS"),
    ("kwargs", "KWARGS"),
    ("item_uid", "ITEM UID"),
    ("state", "STATE"),
]
HISTORY_COLUMNS = [
    ("name", "PLAN"),
    ("args", "ARGS"),
    ("kwargs", "KWARGS"),
    ("exit_status", "EXIT STATUS"),
    ("scan_ids", "SCAN IDS"),
    ("item_uid", "ITEM UID"),
    ("msg", "MESSAGE"),
]
STATUS_KEYS = (
    "msg", "manager_state", "worker_environment_exists", "worker_environment_state", "re_state",
    "items_in_queue", "items_in_history", "running_item_uid", "queue_autostart_enabled",
    "queue_stop_pending", "pause_pending", "plan_queue_mode", "lock",
)  # fmt: skip


# -- shared connection options ---------------------------------------------------------------------
@dataclass
class Conn:
    host: str | None
    port: int | None
    timeout: float
    json: bool
    url: str | None
    api_key_file: str | None
    api_key: str | None
    insecure: bool
    ca_bundle: str | None
    lock_key: str | None
    verbose: bool

    def url_in_use(self) -> str | None:
        """The server URL to use: --url, $QSERVER_HTTP_SERVER_URI or the config, unless --host/--port."""
        if self.port is not None or self.host is not None:
            return None
        return self.url or os.environ.get("QSERVER_HTTP_SERVER_URI") or _config_url()

    def client(self, *, call_timeout: float | None = None, endpoint: Any = None):
        """A verified, authenticated client (the probe runs before any command is sent;
        ``endpoint``: one already verified)."""
        from .client import QueueServer

        options: dict[str, Any] = {
            "api_key": self.api_key,
            "api_key_file": self.api_key_file,
            "timeout": call_timeout if call_timeout is not None else min(self.timeout, 30.0),
            "verify": False if self.insecure else (self.ca_bundle or True),
            "lock_key": self.lock_key or os.environ.get("QSERVER_LOCK_KEY"),
        }
        url = self.url_in_use()
        if url:
            from .probe import verify_url

            endpoint = verify_url(url, min(self.timeout, 5.0))
            qs = QueueServer.from_endpoint(endpoint, base_url=url, **options)
        else:
            endpoint = endpoint or find_endpoint("qserver", self.host, self.port, self.timeout)
            qs = QueueServer.from_endpoint(endpoint, **options)
        if self.verbose:
            _log_to_stderr(qs)
        return qs


def _config_url() -> str | None:
    from tether import config

    value = config.get("qserver", "url")
    return str(value) if value else None


class _StderrLog(logging.Handler):
    """``-v`` output: each record on the current ``sys.stderr``, secrets masked."""

    def emit(self, record: logging.LogRecord) -> None:
        import sys

        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):  # stderr closed (a pipe gone): nothing to report to
            pass


def _stop_logging() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _StderrLog)]:
            logger.removeHandler(old)
        logger.setLevel(logging.NOTSET)


_LOGGERS = ("tether.transport", "tether.qserver")


def _log_to_stderr(qs) -> None:
    """Turn on ``-v`` logging for this client until the command ends."""
    from tether.transport.http import RedactingFilter

    handler = _StderrLog()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(lambda: [qs.api_key] if qs.api_key else []))
    _stop_logging()
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)


URL_HELP = (
    "Server URL; may carry https and a path prefix (default $QSERVER_HTTP_SERVER_URI or [qserver] url)."
)
LOCK_HELP = "Send this lock key with writes to a locked queue/environment (default $QSERVER_LOCK_KEY)."
KEY_HELP = "The API key (visible in the process list: prefer --api-key-file or $QSERVER_HTTP_SERVER_API_KEY)."
_COMMON = [
    ("host", HostOpt, None),
    ("port", PortOpt, None),
    ("json", JsonOpt, False),
    ("url", Annotated[str | None, typer.Option("--url", help=URL_HELP)], None),
    (
        "api_key_file",
        Annotated[str | None, typer.Option("--api-key-file", help="Read the API key from this file.")],
        None,
    ),
    ("api_key", Annotated[str | None, typer.Option("--api-key", help=KEY_HELP)], None),
    ("insecure", Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates.")], False),
    (
        "ca_bundle",
        Annotated[str | None, typer.Option("--ca-bundle", help="Verify TLS with this CA bundle.")],
        None,
    ),
    ("lock_key", Annotated[str | None, typer.Option("--lock-key", help=LOCK_HELP)], None),
    (
        "verbose",
        Annotated[bool, typer.Option("--verbose", "-v", help="Log requests to stderr (secrets redacted).")],
        False,
    ),
]


def command(name: str, *, parent: typer.Typer = app, timeout: float = 10.0) -> Callable:
    """Register ``fn(conn, ...)`` as a command with the shared options added to its signature."""

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.name != "conn"]
        extra = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for n, a, d in _COMMON
        ]
        extra.append(
            inspect.Parameter(
                "timeout", inspect.Parameter.KEYWORD_ONLY, default=timeout, annotation=TimeoutOpt
            )
        )

        @functools.wraps(fn)
        def wrapper(**kw: Any) -> Any:
            conn = Conn(**{k: kw.pop(k) for k in [n for n, _, _ in _COMMON] + ["timeout"]})
            try:
                return fn(conn, **kw)
            finally:
                if conn.verbose:
                    _stop_logging()

        wrapper.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
        parent.command(name)(wrapper)
        return fn

    return deco


def _ok(conn: Conn, reply: Any, text: str) -> None:
    render.emit(reply, as_json=conn.json, text=text)


TransportOpt = Annotated[str, typer.Option("--transport", help="auto (WebSocket, else polling), ws or poll.")]
ForOpt = Annotated[float | None, typer.Option("--for", help="With --follow: stop after this many seconds.")]


# -- status and environment ----------------------------------------------------------------------------
FOLLOWED = ("manager_state", "re_state", "worker_environment_exists", "items_in_queue", "items_in_history",
            "running_item_uid")  # fmt: skip


@command("status", timeout=2.0)
def status(
    conn: Conn,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print a line whenever the state changes.")
    ] = False,
    for_: ForOpt = None,
    transport: TransportOpt = "auto",
) -> None:
    """Where the HTTP server is (version, port, pid) and RE Manager's state (needs the API key).

    --follow streams RE Manager's state over /api/status/ws (polling when it is not offered).
    """
    from .client import resolve_api_key

    if follow:
        _follow_status(conn, for_, transport)
        return

    url = conn.url_in_use()
    endpoint = None if url else find_endpoint("qserver", conn.host, conn.port, conn.timeout)
    key, _ = resolve_api_key(conn.api_key, conn.api_key_file)
    manager = None
    if key:
        with conn.client(call_timeout=max(conn.timeout, 5.0), endpoint=endpoint) as qs:
            st = qs.status(reload=True)
            manager = {k: st.get(k) for k in STATUS_KEYS}
    if conn.json:
        render.print_json({**(endpoint.to_dict() if endpoint else {"url": url}), "manager": manager})
        return
    if endpoint:
        render.emit(
            endpoint,
            as_json=False,
            columns=["app", "version", "host", "port", "pid", "process", "confidence"],
        )
    if manager is None:
        render.note("no API key given: RE Manager's state is not shown (see --api-key-file)")
    else:
        render.emit(manager, as_json=False)


def _follow_status(conn: Conn, duration: float | None, transport: str) -> None:
    import time

    from .stream import StatusFeed

    end = None if duration is None else time.monotonic() + duration
    last = None
    with conn.client() as qs, StatusFeed(qs, transport) as feed:
        while end is None or time.monotonic() < end:
            wait = 5.0 if end is None else max(0.05, min(5.0, end - time.monotonic()))
            st = feed.next(wait)
            now = {k: st.get(k) for k in FOLLOWED}
            if now == last:
                continue
            last = now
            if conn.json:  # one JSON object per line
                render.json_line({"time": time.time(), **now})
            else:
                render.line(
                    f"{time.strftime('%H:%M:%S')} manager {now['manager_state']} · RE {now['re_state']} · "
                    f"env {'open' if now['worker_environment_exists'] else 'closed'} · "
                    f"queue {now['items_in_queue']} · history {now['items_in_history']} · "
                    f"running {now['running_item_uid'] or '-'}"
                )


def _env(conn: Conn, action: str, wait: bool) -> None:
    with conn.client() as qs:
        if action == "open" and wait:
            with render.progress("opening the environment", enabled=not conn.json):
                st = qs.ensure_environment(timeout=conn.timeout)
            _ok(conn, {k: st.get(k) for k in STATUS_KEYS}, "environment open")
            return
        reply = getattr(qs, f"environment_{action}")()
        if wait:
            with render.progress(f"{action} the environment", enabled=not conn.json):
                st = qs.wait_for(
                    lambda s: not s.get("worker_environment_exists") and s.get("manager_state") == "idle",
                    conn.timeout,
                )
            reply = {k: st.get(k) for k in STATUS_KEYS}
        _ok(conn, reply, f"environment {action}: {'done' if wait else 'requested'}")


WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Wait until it is done (open: check that the environment exists).")
]


@command("open", parent=env_app, timeout=120.0)
def env_open(conn: Conn, wait: WaitOpt = False) -> None:
    """Open the worker environment; with --wait, wait and check it exists (console tail on failure)."""
    _env(conn, "open", wait)


@command("ensure", parent=env_app, timeout=120.0)
def env_ensure(conn: Conn) -> None:
    """Open the environment unless it is open, wait, and check it (same as open --wait)."""
    _env(conn, "open", True)


@command("close", parent=env_app, timeout=60.0)
def env_close(conn: Conn, wait: WaitOpt = False) -> None:
    """Close the worker environment."""
    _env(conn, "close", wait)


@command("destroy", parent=env_app, timeout=60.0)
def env_destroy(conn: Conn, wait: WaitOpt = False) -> None:
    """Destroy the worker environment (kills the worker process)."""
    _env(conn, "destroy", wait)


# -- adding and running -----------------------------------------------------------------------------------
PlanArgs = Annotated[list[str], typer.Argument(help=PLAN_HELP, metavar="PLAN...")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the exact request body and send nothing.")]
NoValidateOpt = Annotated[
    bool, typer.Option("--no-validate", help="Skip the check against the allowed plans and devices.")
]


@command("add")
def add(
    conn: Conn,
    plan: PlanArgs,
    pos: Annotated[str | None, typer.Option("--pos", help="front, back or an index.")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Insert before this item uid.")] = None,
    after: Annotated[str | None, typer.Option("--after", help="Insert after this item uid.")] = None,
    dry_run: DryRunOpt = False,
    no_validate: NoValidateOpt = False,
) -> None:
    """Add plans to the queue (checked against the allowed plans and devices first)."""
    from .client import item_add_body
    from .plan import parse_items

    items = parse_items(plan)
    position = _pos(pos)
    if dry_run:
        bodies = [item_add_body(i, pos=position, before_uid=before, after_uid=after) for i in items]
        render.print_json(bodies[0] if len(bodies) == 1 else {"items": [b["item"] for b in bodies]})
        return
    with conn.client() as qs:
        st = qs.status()
        checked = items if no_validate else [qs.validate(i, status=st) for i in items]
        if len(checked) == 1:
            added = [qs.submit(checked[0], validate=False, pos=position, before_uid=before, after_uid=after)]
        else:
            added = qs.item_add_batch(checked, pos=position, before_uid=before, after_uid=after)
    render.emit(
        added,
        as_json=conn.json,
        columns=[("name", "PLAN"), ("args", "ARGS"), ("kwargs", "KWARGS"), ("item_uid", "ITEM UID")],
    )


def _pos(pos: str | None) -> Any:
    if pos is None or pos in ("front", "back"):
        return pos
    try:
        return int(pos)
    except ValueError:
        raise UsageError(f"--pos must be front, back or an integer, not {pos!r}") from None


@command("run", timeout=600.0)
def run(
    conn: Conn,
    plan: PlanArgs,
    open_env: Annotated[
        bool, typer.Option("--open-env", help="Open the environment first if it is not open.")
    ] = False,
    dry_run: DryRunOpt = False,
    no_validate: NoValidateOpt = False,
    transport: TransportOpt = "auto",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="Wait for the plan's result (default), or return once started."
        ),
    ] = True,
) -> None:
    """Add a plan, start the queue, wait for the plan to finish and report how it ended.

    Exit 0 completed (or stopped), 1 failed/aborted/halted, 4 when --timeout passes first.
    """
    from .client import ItemFailed, item_add_body
    from .plan import parse_item
    from .stream import check_transport

    check_transport(transport)
    item = parse_item(plan)
    if dry_run:
        render.print_json(item_add_body(item))
        return
    if not wait:
        with conn.client() as qs:
            if open_env:
                qs.ensure_environment(timeout=conn.timeout)
            added = qs.submit(item, validate=not no_validate)
            qs.queue_start()
        render.emit(added, as_json=conn.json, text=f"started {added['name']} ({added['item_uid']})")
        return
    with conn.client() as qs, render.progress(f"{item['name']}: submitting", enabled=not conn.json) as bar:

        def show(st: dict) -> None:
            bar.update(
                description=f"{item['name']}: manager {st.get('manager_state')}, RE {st.get('re_state')}, "
                f"{st.get('items_in_queue')} queued, {st.get('items_in_history')} in history"
            )

        result = qs.run(
            item,
            open_env=open_env,
            timeout=conn.timeout,
            validate=not no_validate,
            on_status=show,
            transport=transport,
        )
    if conn.json:
        if result.ok:
            render.print_json(result)
    else:
        shown = ("name", "item_uid", "exit_status", "run_uids", "scan_ids", "msg", "requeued_uid")
        summary = {k: v for k, v in result.to_dict().items() if k in shown and v not in (None, "", [])}
        if result.duration is not None:
            summary["duration"] = f"{result.duration:.2f} s"
        render.emit(summary, as_json=False)
    if not result.ok:
        if result.traceback and not conn.json:
            render.note("traceback (last lines):\n" + "\n".join(result.traceback.rstrip().splitlines()[-8:]))
        if result.requeued_uid and not conn.json:
            render.note(f"the server put the plan back at the queue's front as {result.requeued_uid}")
        raise ItemFailed(result)


# -- the queue ---------------------------------------------------------------------------------------------
@command("queue")
def queue(conn: Conn) -> None:
    """Show the running item and the queue."""
    with conn.client() as qs:
        reply = qs.queue_get()
    if conn.json:
        render.print_json(reply)
        return
    rows = []
    running = reply.get("running_item") or {}
    if running:
        rows.append({**running, "pos": "-", "state": "running"})
    rows += [{**it, "pos": i, "state": "queued"} for i, it in enumerate(reply.get("items", []))]
    render.table(rows, QUEUE_COLUMNS, empty="the queue is empty")


@command("remove")
def remove(
    conn: Conn,
    uid: Annotated[
        str | None, typer.Argument(help="The item's uid (default: the back of the queue).")
    ] = None,
    pos: Annotated[str | None, typer.Option("--pos", help="front, back or an index.")] = None,
) -> None:
    """Remove an item from the queue."""
    with conn.client() as qs:
        item = qs.item_remove(uid=uid, pos=_pos(pos))
    render.emit(item, as_json=conn.json, text=f"removed {item.get('name')} ({item.get('item_uid')})")


@command("move")
def move(
    conn: Conn,
    uid: Annotated[str, typer.Argument(help="The item's uid.")],
    to: Annotated[str | None, typer.Option("--to", help="front, back or an index.")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Move before this item uid.")] = None,
    after: Annotated[str | None, typer.Option("--after", help="Move after this item uid.")] = None,
) -> None:
    """Move an item within the queue."""
    with conn.client() as qs:
        item = qs.item_move(uid=uid, pos_dest=_pos(to), before_uid=before, after_uid=after)
    render.emit(item, as_json=conn.json, text=f"moved {item.get('name')} ({item.get('item_uid')})")


def _simple(name: str, method: str, text: str, doc: str) -> None:
    """A command that calls one argument-free client method and reports ``text``."""

    def cmd(conn: Conn) -> None:
        with conn.client() as qs:
            _ok(conn, getattr(qs, method)(), text)

    cmd.__doc__ = doc
    cmd.__name__ = name
    command(name)(cmd)


_simple("clear", "queue_clear", "queue cleared", "Remove every item from the queue (the running one stays).")
_simple("start", "queue_start", "queue started", "Start the queue (already running counts as success).")
_simple("resume", "re_resume", "resumed", "Resume the paused plan.")
_simple("abort", "re_abort", "aborted", "Abort the paused plan (it ends 'aborted').")
_simple("halt", "re_halt", "halted", "Halt the paused plan (no cleanup; it ends 'halted').")


@command("stop")
def stop(
    conn: Conn,
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel a pending queue stop.")] = False,
    plan: Annotated[
        bool, typer.Option("--plan", help="Stop the paused plan (RunEngine stop: ends 'stopped').")
    ] = False,
) -> None:
    """Stop the queue after the running plan (or --cancel that; --plan stops a paused plan)."""
    with conn.client() as qs:
        if plan:
            _ok(conn, qs.re_stop(), "plan stopped")
        elif cancel:
            _ok(conn, qs.queue_stop_cancel(), "queue stop cancelled")
        else:
            _ok(conn, qs.queue_stop(), "the queue will stop after the running plan")


@command("autostart")
def autostart(conn: Conn, enable: Annotated[bool, typer.Argument(help="on/off (true/false).")]) -> None:
    """Turn queue autostart on or off."""
    with conn.client() as qs:
        _ok(conn, qs.queue_autostart(enable), f"autostart {'on' if enable else 'off'}")


@command("pause")
def pause(
    conn: Conn,
    immediate: Annotated[
        bool, typer.Option("--immediate", help="Pause now, not at the next checkpoint.")
    ] = False,
) -> None:
    """Pause the running plan (deferred: at its next checkpoint)."""
    with conn.client() as qs:
        _ok(conn, qs.re_pause("immediate" if immediate else "deferred"), "pause requested")


@command("history")
def history(
    conn: Conn,
    last: Annotated[int | None, typer.Option("--last", "-n", help="Only the last N items.")] = None,
    clear_: Annotated[bool, typer.Option("--clear", help="Clear the history.")] = False,
) -> None:
    """Show finished items with their exit status, scan ids and messages."""
    with conn.client() as qs:
        if clear_:
            _ok(conn, qs.history_clear(), "history cleared")
            return
        items = qs.history_get().get("items", [])
    if last is not None:
        items = items[-last:] if last > 0 else []
    if conn.json:
        render.print_json(items)
        return
    rows = [
        {**it, **{k: (it.get("result") or {}).get(k) for k in ("exit_status", "scan_ids", "msg")}}
        for it in items
    ]
    render.table(rows, HISTORY_COLUMNS, empty="the history is empty")


ExistingOpt = Annotated[bool, typer.Option("--existing", help="All that exist, not only what you may use.")]


@command("plans")
def plans(
    conn: Conn,
    name: Annotated[str | None, typer.Argument(help="Describe this plan's parameters.")] = None,
    existing: ExistingOpt = False,
) -> None:
    """List the allowed plans (or --existing: all the environment defines), or describe one."""
    with conn.client() as qs:
        allowed = qs.plans_existing(reduced=True) if existing else qs.plans_allowed(reduced=True)
    if name is None:
        rows = [
            {"name": n, "description": (p.get("description") or "").split("\n")[0]}
            for n, p in sorted(allowed.items())
        ]
        render.emit(
            rows if not conn.json else allowed,
            as_json=conn.json,
            columns=[("name", "PLAN"), ("description", "DESCRIPTION")],
        )
        return
    if name not in allowed:
        from .plan import validate_item

        validate_item({"item_type": "plan", "name": name}, allowed, [])
    params = allowed[name].get("parameters", [])
    rows = [
        {
            "name": p["name"],
            "kind": (p.get("kind") or {}).get("name"),
            "type": p.get("type"),
            "default": p.get("default"),
            "required": not p.get("is_optional", False),
            "description": (p.get("description") or "").split("\n")[0],
        }
        for p in params
    ]
    render.emit(
        allowed[name] if conn.json else rows,
        as_json=conn.json,
        columns=["name", "kind", "type", "default", "required", "description"],
        title=name,
    )


@command("devices")
def devices(conn: Conn, existing: ExistingOpt = False) -> None:
    """List the allowed devices (or --existing: all the environment defines)."""
    with conn.client() as qs:
        allowed = qs.devices_existing() if existing else qs.devices_allowed()
    rows = [
        {"name": n, "class": d.get("classname"), "module": d.get("module")}
        for n, d in sorted(allowed.items())
    ]
    render.emit(
        allowed if conn.json else rows,
        as_json=conn.json,
        columns=[("name", "DEVICE"), ("class", "CLASS"), ("module", "MODULE")],
    )


@command("console", timeout=10.0)
def console(
    conn: Conn,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new output.")] = False,
    for_: ForOpt = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", help="Lines of past output to show first (0: none).")
    ] = 10,
    transport: TransportOpt = "auto",
) -> None:
    """RE Manager's console output; --follow then streams it (WebSocket, else polling)."""
    from .stream import check_transport, follow_console

    check_transport(transport)
    with conn.client() as qs:
        stream = follow_console(qs, transport=transport, duration=for_) if follow else iter(())
        past = qs.console_text(lines).rstrip("\n") if lines > 0 else ""
        if not follow and conn.json:
            render.print_json({"text": past})
            return
        if past:
            if conn.json:
                render.json_line({"msg": past})
            else:
                render.line(past)
        for msg in stream:
            if conn.json:  # one JSON object per line
                render.json_line({"msg": msg})
            else:
                render.line(msg.rstrip("\n"))


# -- locks ---------------------------------------------------------------------------------------------------
LockKeyOpt = Annotated[
    str | None, typer.Option("--key", "-k", help="The lock key (default $QSERVER_LOCK_KEY).")
]


def _lock_key(key: str | None) -> str:
    key = key or os.environ.get("QSERVER_LOCK_KEY")
    if not key:
        raise UsageError("a lock key is needed: --key KEY or $QSERVER_LOCK_KEY")
    return key


@command("lock")
def lock(
    conn: Conn,
    key: LockKeyOpt = None,
    environment: Annotated[bool, typer.Option("--env", help="Lock the environment.")] = False,
    queue_: Annotated[bool, typer.Option("--queue", help="Lock the queue.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="A note other users see.")] = None,
    info: Annotated[bool, typer.Option("--info", help="Only show the lock state.")] = False,
) -> None:
    """Lock the environment and/or the queue with a key (or --info: show the lock state)."""
    with conn.client() as qs:
        if info:
            render.emit(qs.lock_info(key), as_json=conn.json)
            return
        reply = qs.lock(_lock_key(key), environment=environment, queue=queue_, note=note)
    render.emit(reply.get("lock_info", reply), as_json=conn.json)


@command("unlock")
def unlock(conn: Conn, key: LockKeyOpt = None) -> None:
    """Remove the lock (needs the key it was set with, or the emergency key)."""
    with conn.client() as qs:
        _ok(conn, qs.unlock(_lock_key(key)), "unlocked")
