"""`tether qserver …`: the Bluesky HTTP Server's commands, declared on the core's CLI layer.

Each command takes the shared options and the adapter's settings (``--url``, ``--api-key-file``,
``--lock-key`` …, see :mod:`.settings`); the client does the work, this module only renders.
requests and websocket-client are imported only when a command runs.
"""

from typing import Annotated, Any

import typer

from tether.cli import render
from tether.cli.command import Commands, Target
from tether.errors import UsageError

from . import views
from .settings import SETTINGS

cmd = Commands(
    "qserver",
    help="Drive the Bluesky HTTP Server (submit, run and track plans).",
    settings=SETTINGS,
    status=False,
)
app = cmd.app
cmd.group("env", help="Open, close or destroy the worker environment.")

PLAN_HELP = (
    "The plan: shorthand NAME ARG... KEY=VALUE (values are JSON or Python literals; a bare a,b is a list, "
    'so count det1,det2 num=3 equals count \'["det1","det2"]\' num=3, and det1, is a one-item list), '
    'a whole item as JSON/Python literal (\'{"name": "count", ...}\'), '
    "or @file.json / @file.yaml / @- (stdin)."
)
PlanArgs = Annotated[list[str], typer.Argument(help=PLAN_HELP, metavar="PLAN...")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the exact request body and send nothing.")]
NoValidateOpt = Annotated[
    bool, typer.Option("--no-validate", help="Skip the check against the allowed plans and devices.")
]
TransportOpt = Annotated[str, typer.Option("--transport", help="auto (WebSocket, else polling), ws or poll.")]
ForOpt = Annotated[float | None, typer.Option("--for", help="With --follow: stop after this many seconds.")]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing as things change.")]
PosOpt = Annotated[str | None, typer.Option("--pos", help="front, back or an index.")]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Wait until it is done (open: check that the environment exists).")
]
ExistingOpt = Annotated[bool, typer.Option("--existing", help="All that exist, not only what you may use.")]
LockKeyOpt = Annotated[
    str | None, typer.Option("--key", "-k", help="The lock key (default: the lock_key setting).")
]


def _pos(pos: str | None) -> Any:
    if pos is None or pos in ("front", "back"):
        return pos
    try:
        return int(pos)
    except ValueError:
        raise UsageError(f"--pos must be front, back or an integer, not {pos!r}") from None


def _ok(target: Target, reply: Any, text: str) -> None:
    target.emit(reply, text=text)


# -- status and environment ----------------------------------------------------------------------------
@cmd("status", timeout=2.0)
def status(
    target: Target, follow: FollowOpt = False, for_: ForOpt = None, transport: TransportOpt = "auto"
) -> None:
    """Where the HTTP server is (version, port, pid) and RE Manager's state (needs the API key).

    --follow streams RE Manager's state over /api/status/ws (polling when it is not offered).
    """
    from .stream import check_transport, status_changes, status_line

    check_transport(transport)
    if follow:
        for change in status_changes(target.client(timeout=max(target.timeout or 0, 5.0)), transport, for_):
            render.json_line(change) if target.json else render.line(status_line(change))
        return
    endpoint = target.endpoint()
    qs = target.client(timeout=max(target.timeout or 0, 5.0))
    manager = qs.summary() if qs.api_key or qs.door == "zmq" else None
    if target.json:
        return render.print_json({**endpoint.to_dict(), "manager": manager})
    target.emit(endpoint, columns=views.ENDPOINT)
    if manager is None:
        render.note("no API key given: RE Manager's state is not shown (see --api-key-file)")
    else:
        target.emit(manager)


def _env(target: Target, action: str, wait: bool) -> None:
    with target.client() as qs, target.progress(f"{action} the environment"):
        reply = qs.environment(action, wait=wait, timeout=target.timeout)
    _ok(target, reply, f"environment {action}: {'done' if wait else 'requested'}")


@cmd("open", group="env", timeout=120.0)
def env_open(target: Target, wait: WaitOpt = False) -> None:
    """Open the worker environment; with --wait, wait and check it exists (console tail on failure)."""
    _env(target, "open", wait)


@cmd("ensure", group="env", timeout=120.0)
def env_ensure(target: Target) -> None:
    """Open the environment unless it is open, wait, and check it (same as open --wait)."""
    _env(target, "open", True)


@cmd("close", group="env", timeout=60.0)
def env_close(target: Target, wait: WaitOpt = False) -> None:
    """Close the worker environment."""
    _env(target, "close", wait)


@cmd("destroy", group="env", timeout=60.0)
def env_destroy(target: Target, wait: WaitOpt = False) -> None:
    """Destroy the worker environment (kills the worker process)."""
    _env(target, "destroy", wait)


# -- adding and running -------------------------------------------------------------------------------------
@cmd("add")
def add(
    target: Target,
    plan: PlanArgs,
    pos: PosOpt = None,
    before: Annotated[str | None, typer.Option("--before", help="Insert before this item uid.")] = None,
    after: Annotated[str | None, typer.Option("--after", help="Insert after this item uid.")] = None,
    dry_run: DryRunOpt = False,
    no_validate: NoValidateOpt = False,
) -> None:
    """Add plans to the queue (checked against the allowed plans and devices first)."""
    from .client import item_add_body
    from .plan import parse_items

    items, where = parse_items(plan), {"pos": _pos(pos), "before_uid": before, "after_uid": after}
    if dry_run:
        bodies = [item_add_body(i, **where) for i in items]
        return render.print_json(bodies[0] if len(bodies) == 1 else {"items": [b["item"] for b in bodies]})
    with target.client() as qs:
        added = qs.add(items, validate=not no_validate, **where)
    target.emit(added, columns=views.ADDED)


@cmd("run", timeout=600.0)
def run(
    target: Target,
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
        return render.print_json(item_add_body(item))
    with target.client() as qs:
        if not wait:
            added = qs.start(item, open_env=open_env, validate=not no_validate, timeout=target.timeout)
            return target.emit(added, text=f"started {added['name']} ({added['item_uid']})")
        with target.progress(f"{item['name']}: submitting") as bar:
            result = qs.run(
                item,
                open_env=open_env,
                timeout=target.timeout,
                validate=not no_validate,
                on_status=lambda st: bar.update(description=f"{item['name']}: {qs.progress_text(st)}"),
                transport=transport,
            )
    if target.json and result.ok:
        render.print_json(result)
    elif not target.json:
        target.emit(result.summary())
        for note in result.notes():
            render.note(note)
    if not result.ok:
        raise ItemFailed(result)


# -- the queue ---------------------------------------------------------------------------------------
@cmd("queue")
def queue(target: Target) -> None:
    """Show the running item and the queue."""
    with target.client() as qs:
        reply = qs.queue_get()
    if target.json:
        return render.print_json(reply)
    render.table(views.queue_rows(reply), views.QUEUE, empty="the queue is empty")


@cmd("remove")
def remove(
    target: Target,
    uid: Annotated[
        str | None, typer.Argument(help="The item's uid (default: the back of the queue).")
    ] = None,
    pos: PosOpt = None,
) -> None:
    """Remove an item from the queue."""
    with target.client() as qs:
        item = qs.item_remove(uid=uid, pos=_pos(pos))
    _ok(target, item, f"removed {item.get('name')} ({item.get('item_uid')})")


@cmd("move")
def move(
    target: Target,
    uid: Annotated[str, typer.Argument(help="The item's uid.")],
    to: Annotated[str | None, typer.Option("--to", help="front, back or an index.")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Move before this item uid.")] = None,
    after: Annotated[str | None, typer.Option("--after", help="Move after this item uid.")] = None,
) -> None:
    """Move an item within the queue."""
    with target.client() as qs:
        item = qs.item_move(uid=uid, pos_dest=_pos(to), before_uid=before, after_uid=after)
    _ok(target, item, f"moved {item.get('name')} ({item.get('item_uid')})")


def _simple(name: str, method: str, text: str, doc: str) -> None:
    """A command that calls one argument-free client method and reports ``text``."""

    def command(target: Target) -> None:
        with target.client() as qs:
            _ok(target, getattr(qs, method)(), text)

    command.__doc__, command.__name__ = doc, name
    cmd(name)(command)


_simple("clear", "queue_clear", "queue cleared", "Remove every item from the queue (the running one stays).")
_simple("start", "queue_start", "queue started", "Start the queue (already running counts as success).")
_simple("resume", "re_resume", "resumed", "Resume the paused plan.")
_simple("abort", "re_abort", "aborted", "Abort the paused plan (it ends 'aborted').")
_simple("halt", "re_halt", "halted", "Halt the paused plan (no cleanup; it ends 'halted').")


@cmd("stop")
def stop(
    target: Target,
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel a pending queue stop.")] = False,
    plan: Annotated[
        bool, typer.Option("--plan", help="Stop the paused plan (RunEngine stop: ends 'stopped').")
    ] = False,
) -> None:
    """Stop the queue after the running plan (or --cancel that; --plan stops a paused plan)."""
    with target.client() as qs:
        if plan:
            return _ok(target, qs.re_stop(), "plan stopped")
        if cancel:
            return _ok(target, qs.queue_stop_cancel(), "queue stop cancelled")
        _ok(target, qs.queue_stop(), "the queue will stop after the running plan")


@cmd("autostart")
def autostart(target: Target, enable: Annotated[bool, typer.Argument(help="on/off (true/false).")]) -> None:
    """Turn queue autostart on or off."""
    with target.client() as qs:
        _ok(target, qs.queue_autostart(enable), f"autostart {'on' if enable else 'off'}")


@cmd("pause")
def pause(
    target: Target,
    immediate: Annotated[
        bool, typer.Option("--immediate", help="Pause now, not at the next checkpoint.")
    ] = False,
) -> None:
    """Pause the running plan (deferred: at its next checkpoint)."""
    with target.client() as qs:
        _ok(target, qs.re_pause("immediate" if immediate else "deferred"), "pause requested")


@cmd("history")
def history(
    target: Target,
    last: Annotated[int | None, typer.Option("--last", "-n", help="Only the last N items.")] = None,
    clear_: Annotated[bool, typer.Option("--clear", help="Clear the history.")] = False,
) -> None:
    """Show finished items with their exit status, scan ids and messages."""
    with target.client() as qs:
        if clear_:
            return _ok(target, qs.history_clear(), "history cleared")
        items = qs.history_get().get("items", [])
    if last is not None:
        items = items[-last:] if last > 0 else []
    if target.json:
        return render.print_json(items)
    render.table(views.history_rows(items), views.HISTORY, empty="the history is empty")


@cmd("plans")
def plans(
    target: Target,
    name: Annotated[str | None, typer.Argument(help="Describe this plan's parameters.")] = None,
    existing: ExistingOpt = False,
) -> None:
    """List the allowed plans (or --existing: all the environment defines), or describe one."""
    with target.client() as qs:
        if name is not None:
            info = qs.plan_info(name, existing=existing)
            return target.emit(
                info if target.json else views.parameter_rows(info), columns=views.PARAMETERS, title=name
            )
        found = qs.plans_existing(reduced=True) if existing else qs.plans_allowed(reduced=True)
    target.emit(found if target.json else views.plan_rows(found), columns=views.PLANS)


@cmd("devices")
def devices(target: Target, existing: ExistingOpt = False) -> None:
    """List the allowed devices (or --existing: all the environment defines)."""
    with target.client() as qs:
        found = qs.devices_existing() if existing else qs.devices_allowed()
    target.emit(found if target.json else views.device_rows(found), columns=views.DEVICES)


@cmd("console", timeout=10.0)
def console(
    target: Target,
    follow: FollowOpt = False,
    for_: ForOpt = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", help="Lines of past output to show first (0: none).")
    ] = 10,
    transport: TransportOpt = "auto",
) -> None:
    """RE Manager's console output; --follow then streams it (WebSocket, else polling)."""
    from .stream import console_lines

    with target.client() as qs:
        if not follow and target.json:
            return render.print_json({"text": qs.console_text(lines).rstrip("\n") if lines > 0 else ""})
        for msg in console_lines(qs, lines=lines, follow=follow, transport=transport, duration=for_):
            render.json_line({"msg": msg}) if target.json else render.line(msg.rstrip("\n"))


# -- locks --------------------------------------------------------------------------------------------------
def _lock_key(target: Target, key: str | None) -> str:
    key = key or target.settings.get("lock_key")
    if not key:
        raise UsageError("a lock key is needed: --key KEY, --lock-key or $QSERVER_LOCK_KEY")
    return key


@cmd("lock")
def lock(
    target: Target,
    key: LockKeyOpt = None,
    environment: Annotated[bool, typer.Option("--env", help="Lock the environment.")] = False,
    queue_: Annotated[bool, typer.Option("--queue", help="Lock the queue.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="A note other users see.")] = None,
    info: Annotated[bool, typer.Option("--info", help="Only show the lock state.")] = False,
) -> None:
    """Lock the environment and/or the queue with a key (or --info: show the lock state)."""
    with target.client() as qs:
        if info:
            return target.emit(qs.lock_info(key))
        reply = qs.lock(_lock_key(target, key), environment=environment, queue=queue_, note=note)
    target.emit(reply.get("lock_info", reply))


@cmd("unlock")
def unlock(target: Target, key: LockKeyOpt = None) -> None:
    """Remove the lock (needs the key it was set with, or the emergency key)."""
    with target.client() as qs:
        _ok(target, qs.unlock(_lock_key(target, key)), "unlocked")
