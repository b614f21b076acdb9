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
for _name, _help in (
    ("env", "Open, close, destroy or update the worker environment."),
    ("item", "One queued item: get it or update it."),
    ("function", "Run a function the startup code defines, in the worker."),
    ("script", "Run a Python script in the worker."),
    ("task", "The tasks that function execute, script upload and env update start."),
    ("permissions", "The user group permissions."),
    ("kernel", "The worker's IPython kernel."),
    ("manager", "RE Manager itself."),
    ("apikey", "API keys of the user logged in (or of the key in use): new, info, delete."),
):
    cmd.group(_name, help=_help)


def Flag(name: str, help: str) -> Any:
    return Annotated[bool, typer.Option(name, help=help)]


def Text(name: str, help: str, kind: Any = str) -> Any:
    return Annotated[kind | None, typer.Option(name, help=help)]


def Arg(help: str, kind: Any = str, **kw: Any) -> Any:
    return Annotated[kind, typer.Argument(help=help, **kw)]


PLAN_HELP = (
    "The plan: shorthand NAME ARG... KEY=VALUE (values are JSON or Python literals; a bare a,b is a list, "
    'so count det1,det2 num=3 equals count \'["det1","det2"]\' num=3, and det1, is a one-item list), '
    'a whole item as JSON/Python literal (\'{"name": "count", ...}\'), '
    "or @file.json / @file.yaml / @- (stdin)."
)
PlanArgs = Arg(PLAN_HELP, list[str], metavar="PLAN...")
#: a plan's values may be negative numbers (scan det1 motor -1 1 10): the parser leaves what is no
#: option of the command to the plan, which refuses any other leading "-" as the option it looks like
PLAN_CONTEXT = {"ignore_unknown_options": True}
DryRunOpt = Flag("--dry-run", "Print the exact request body, send nothing (checked unless --no-validate).")
NoValidateOpt = Flag("--no-validate", "Skip the check against the allowed plans and devices.")
TransportOpt = Annotated[str, typer.Option("--transport", help="auto (WebSocket, else polling), ws or poll.")]
ForOpt = Text("--for", "With --follow: stop after this many seconds.", float)
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing as things change.")]
PosOpt = Text("--pos", "front, back or an index.")
WaitOpt = Flag("--wait", "Wait until it is done (open: check that the environment exists).")
WaitTaskOpt = Flag("--wait", "Wait for the task and print its result.")
BackgroundOpt = Flag("--background", "Run it in a background thread of the worker.")
ExistingOpt = Flag("--existing", "All that exist, not only what you may use.")
LockKeyOpt = Annotated[
    str | None, typer.Option("--key", "-k", help="The lock key (default: the lock_key setting).")
]
Uids = Arg("Item uids (several: all or nothing).", list[str] | None, metavar="UID...")


def _pos(pos: str | None) -> Any:
    if pos is None or pos in ("front", "back"):
        return pos
    try:
        return int(pos)
    except ValueError:
        raise UsageError(f"--pos must be front, back or an integer, not {pos!r}") from None


def _uid_or_pos(uids: list[str], pos: str | None) -> tuple[list[str], str | None]:
    """A lone "uid" that is a position (``move 0 --to front``, ``remove back``) is ``--pos``: item
    uids are UUIDs, never an integer, front or back."""
    if len(uids) == 1 and pos is None and (uids[0] in ("front", "back") or uids[0].lstrip("-").isdigit()):
        return [], uids[0]
    return uids, pos


def _ok(target: Target, reply: Any, text: str) -> None:
    target.emit(reply, text=text)


def _call(target: Target, method: str, text: str | None, **kw: Any) -> None:
    """Call one client method and print its reply (``text`` for people, when given)."""
    with target.client() as qs:
        target.emit(getattr(qs, method)(**kw), text=text)


#: commands that stop or destroy something: agents (``tether mcp``) need --allow-destructive for them
DESTRUCTIVE = frozenset(
    {"clear", "abort", "halt", "env close", "env destroy", "manager kill", "manager stop", "history clear"}
)


def _declare(group: str | None, name: str, method: str, text: str | None, doc: str) -> None:
    """A command that calls one argument-free client method."""

    def command(target: Target) -> None:
        _call(target, method, text)

    command.__doc__, command.__name__ = doc, f"{group or 'qserver'}_{name}"
    cmd(name, group=group, destructive=(f"{group} {name}" if group else name) in DESTRUCTIVE)(command)


for _args in (
    (
        None,
        "clear",
        "queue_clear",
        "queue cleared",
        "Remove every item from the queue (the running one stays).",
    ),
    (None, "start", "queue_start", "queue started", "Start the queue (already running counts as success)."),
    (None, "resume", "re_resume", "resumed", "Resume the paused plan."),
    (None, "abort", "re_abort", "aborted", "Abort the paused plan (it ends 'aborted')."),
    (None, "halt", "re_halt", "halted", "Halt the paused plan (no cleanup; it ends 'halted')."),
    (None, "ping", "ping", None, "Ping RE Manager through the HTTP server."),
    (None, "config", "config_get", None, "RE Manager's configuration."),
    (None, "metadata", "re_metadata", None, "The RunEngine's metadata (httpserver 0.0.14: use --zmq)."),
    ("permissions", "get", "permissions_get", None, "The user group permissions in use."),
    ("manager", "kill", "manager_kill", "RE Manager killed", "The server's test endpoint: kill RE Manager."),
    (None, "logout", "logout", None, "Revoke the login's session on the server and forget its tokens."),
    (None, "whoami", "whoami", None, "Who the credentials in use belong to: identities, roles, scopes."),
    ("apikey", "info", "apikey_info", None, "The API key in use (first eight characters, scopes, expiry)."),
):
    _declare(*_args)


# -- status and environment ----------------------------------------------------------------------------
@cmd("status", timeout=5.0)
def status(
    target: Target, follow: FollowOpt = False, for_: ForOpt = None, transport: TransportOpt = "auto"
) -> None:
    """Where the HTTP server is (version, port, pid) and RE Manager's state (needs the API key).

    --follow streams RE Manager's state over /api/status/ws (polling when it is not offered).
    """
    from .stream import check_transport, status_changes, status_line

    check_transport(transport)
    qs = target.client()
    if follow:
        for change in status_changes(qs, transport, for_):
            render.json_line(change) if target.json else render.line(status_line(change))
        return
    endpoint = target.endpoint()
    manager = qs.summary() if qs.auth_headers() or qs.door == "zmq" else None
    if target.json:
        return render.print_json({**endpoint.to_dict(), "manager": manager})
    target.emit(endpoint, columns=views.ENDPOINT)
    if manager is None:
        return render.note(
            "no API key given (nor a login): RE Manager's state is not shown (see --api-key-file)"
        )
    target.emit(manager)


def _env(action: str, doc: str, *, always_wait: bool = False) -> None:
    def command(target: Target, wait: WaitOpt = False) -> None:
        with target.client() as qs, target.progress(f"{action} the environment"):
            reply = qs.environment(action, wait=wait or always_wait, timeout=target.timeout)
        _ok(target, reply, f"environment {action}: {'done' if wait or always_wait else 'requested'}")

    command.__doc__, command.__name__ = doc, f"env_{action}"
    cmd(
        "ensure" if always_wait else action,
        group="env",
        timeout=120.0,
        destructive=f"env {action}" in DESTRUCTIVE,
    )(command)


_env("open", "Open the worker environment; with --wait, wait and check it exists (console tail on failure).")
_env(
    "open",
    "Open the environment unless it is open, wait, and check it (same as open --wait).",
    always_wait=True,
)
_env("close", "Close the worker environment.")
_env("destroy", "Destroy the worker environment (kills the worker process).")


@cmd("update", group="env", timeout=120.0)
def env_update(target: Target, wait: WaitTaskOpt = False) -> None:
    """Reload the environment's plans and devices from the worker (a task; --wait for its end)."""
    with target.client() as qs:
        _task(target, qs, qs.environment_update(), wait)


def _task(target: Target, qs: Any, reply: dict, wait: bool) -> None:
    """Report a started task, or (``wait``) wait for it and report its result."""
    if not wait:
        return _ok(target, reply, f"started task {reply.get('task_uid')}")
    with target.progress(f"task {reply.get('task_uid')}"):
        done = qs.wait_for_task(reply["task_uid"], timeout=target.timeout)
    result = done.get("result") or {}
    _ok(target, done, f"task {done.get('task_uid')} {done.get('status')}: {result.get('return_value')!r}")


# -- adding and running -------------------------------------------------------------------------------------
@cmd("add", context_settings=PLAN_CONTEXT)
def add(
    target: Target,
    plan: Arg(PLAN_HELP, list[str] | None, metavar="PLAN...") = None,
    file: Text("--file", "Plans from a .csv (plan, args and keyword columns), .yaml or .json file.") = None,
    pos: PosOpt = None,
    before: Text("--before", "Insert before this item uid.") = None,
    after: Text("--after", "Insert after this item uid.") = None,
    dry_run: DryRunOpt = False,
    no_validate: NoValidateOpt = False,
) -> None:
    """Add plans to the queue (checked against the allowed plans and devices first).

    --file adds every row of a file, all or nothing: each is checked before any is sent, and a bad
    row is named by its file and line (exit 2, nothing added). An .xlsx file goes to the HTTP
    server's spreadsheet upload, which converts and checks it there.
    """
    from .client import item_add_body
    from .plan import parse_items, read_plan_file

    if file is not None and plan:
        raise UsageError("give plans on the command line or --file, not both")
    if file is not None and file.lower().endswith(".xlsx"):
        return _upload_sheet(target, file, dry_run, pos or before or after)
    if file is None and not plan:
        raise UsageError("no plan given: name a plan (count det1 num=3), a JSON item, @file or --file FILE")
    found = read_plan_file(file) if file is not None else [(None, i) for i in parse_items(plan)]
    places = [w for w, _ in found] if file is not None else None
    items, where = [i for _, i in found], {"pos": _pos(pos), "before_uid": before, "after_uid": after}
    if dry_run:
        if not no_validate:
            with target.client() as qs:
                items = qs.validate_many(items, where=places)
        bodies = [item_add_body(i, **where) for i in items]
        return render.print_json(bodies[0] if len(bodies) == 1 else {"items": [b["item"] for b in bodies]})
    with target.client() as qs:
        added = qs.add(items, validate=not no_validate, where=places, **where)
    target.emit(added, columns=views.ADDED)


def _upload_sheet(target: Target, file: str, dry_run: bool, placed: Any) -> None:
    """``add --file plans.xlsx``: the HTTP server converts the sheet and adds its plans (its
    spreadsheet upload); tether cannot read it, so nothing is checked here, and it goes to the back."""
    from pathlib import Path

    from .plan import read_text

    if dry_run or placed:
        raise UsageError(
            f"an .xlsx file is converted by the server (its spreadsheet upload), which has no "
            f"{'dry run' if dry_run else '--pos/--before/--after'}",
            hint="save it as .csv: tether qserver add --file PLANS.csv checks every row here first",
        )
    content = read_text(file, binary=True)
    with target.client() as qs:
        reply = qs.queue_upload(Path(file).name, content)
    target.emit(reply if target.json else reply.get("items", []), columns=views.ADDED)


@cmd("run", timeout=600.0, context_settings=PLAN_CONTEXT)
def run(
    target: Target,
    plan: PlanArgs,
    queue_: Flag("--queue", "Add it to the queue and start the queue; report all that ran.") = False,
    open_env: Flag("--open-env", "Open the environment first if it is not open.") = False,
    dry_run: DryRunOpt = False,
    no_validate: NoValidateOpt = False,
    transport: TransportOpt = "auto",
    wait: Flag("--wait/--no-wait", "Wait for the plan's result (default), or return once started.") = True,
) -> None:
    """Run a plan now, wait for it to finish and report how it ended; the queue is left as it was.

    With --queue: add it to the back of the queue, start the queue, and report every item that
    ran until it finished. A run that cannot start leaves nothing in the queue.
    Exit 0 completed (or stopped), 1 failed/aborted/halted or refused, 4 when --timeout passes first.
    """
    from .client import ItemFailed, item_add_body
    from .plan import parse_item
    from .stream import check_transport

    check_transport(transport)
    item = parse_item(plan)
    if dry_run:
        if not no_validate:
            with target.client() as qs:
                item = qs.validate(item)
        return render.print_json(item_add_body(item))
    opts = {"open_env": open_env, "validate": not no_validate}
    with target.client() as qs:
        if not wait:
            started = qs.start(item, queue=queue_, timeout=target.timeout, **opts)
            return target.emit(started, text=f"started {started['name']} ({started['item_uid']})")
        with target.progress(f"{item['name']}: starting") as bar:
            show = lambda st: bar.update(description=f"{item['name']}: {qs.progress_text(st)}")  # noqa: E731
            follow = {"timeout": target.timeout, "on_status": show, "transport": transport, **opts}
            ran = qs.run_queue(item, **follow) if queue_ else [qs.run(item, **follow)]
    result = ran[-1]
    if not target.json:
        target.emit(ran, columns=views.RAN) if queue_ else target.emit(result.summary())
        for note in result.notes():
            render.note(note)
    elif result.ok:
        render.print_json(ran if queue_ else result)
    if not result.ok:
        failed = ItemFailed(result)
        failed.detail["ran"] = [r.to_dict() for r in ran]
        raise failed


# -- the queue ---------------------------------------------------------------------------------------
cmd.group("queue", help="Show the running item and the queue (or change the queue's mode).")


@cmd(group="queue", default=True)
def queue(target: Target) -> None:
    """Show the running item and the queue."""
    with target.client() as qs:
        reply = qs.queue_get()
    if target.json:
        return render.print_json(reply)
    render.table(views.queue_rows(reply), views.QUEUE, empty="the queue is empty")


@cmd("mode", group="queue")
def queue_mode(
    target: Target,
    loop: Text("--loop/--no-loop", "Finished items go to the back of the queue.", bool) = None,
    ignore_failures: Text("--ignore-failures/--no-ignore-failures", "Go on past failed plans.", bool) = None,
    default: Flag("--default", "Both off.") = False,
) -> None:
    """Change the queue mode (loop, ignore failures)."""
    from .client import queue_mode

    queue_mode(loop, ignore_failures, default)  # bad input is refused before connecting
    with target.client() as qs:
        qs.queue_mode_set(loop=loop, ignore_failures=ignore_failures, default=default)
        mode = qs.status(reload=True).get("plan_queue_mode")
    _ok(target, mode, f"queue mode: {mode}")


@cmd("upload", group="queue")
def queue_upload(
    target: Target,
    file: Arg("A spreadsheet of plans (.xlsx or .csv) the server converts."),
    data_type: Text("--data-type", "The kind of spreadsheet, for a site's own converter.") = None,
) -> None:
    """Add the plans of a spreadsheet to the queue (all or nothing)."""
    from pathlib import Path

    from .plan import read_text

    content = read_text(file, binary=True)
    with target.client() as qs:
        reply = qs.queue_upload(Path(file).name, content, data_type=data_type)
    target.emit(reply if target.json else reply.get("items", []), columns=views.ADDED)


@cmd("remove")
def remove(target: Target, uids: Uids = None, pos: PosOpt = None) -> None:
    """Remove items from the queue, by uid (one or several) or --pos (default: the back)."""
    uids, pos = _uid_or_pos(uids or [], pos)
    if uids and pos is not None:
        raise UsageError("give item uids or --pos, not both")
    if len(uids) > 1:
        return _call(target, "item_remove_batch", f"removed {len(uids)} items", uids=uids)
    with target.client() as qs:
        item = qs.item_remove(uid=uids[0] if uids else None, pos=_pos(pos))
    _ok(target, item, f"removed {item.get('name')} ({item.get('item_uid')})")


@cmd("move")
def move(
    target: Target,
    uids: Uids = None,
    pos: Text("--pos", "Move the item at this position.") = None,
    to: Text("--to", "front, back or an index.") = None,
    before: Text("--before", "Move before this item uid.") = None,
    after: Text("--after", "Move after this item uid.") = None,
) -> None:
    """Move items within the queue: by uid (one or several) or position (move 0 --to back), to --to,
    --before or --after."""
    uids, pos = _uid_or_pos(uids or [], pos)
    if bool(uids) == (pos is not None):
        raise UsageError("name the item to move: item uids or --pos, not both")
    where = {"before_uid": before, "after_uid": after}
    if len(uids) > 1:
        from .client import batch_destination

        batch_destination(to, **where)
        return _call(target, "item_move_batch", f"moved {len(uids)} items", uids=uids, pos_dest=to, **where)
    with target.client() as qs:
        item = qs.item_move(uid=uids[0] if uids else None, pos=_pos(pos), pos_dest=_pos(to), **where)
    _ok(target, item, f"moved {item.get('name')} ({item.get('item_uid')})")


@cmd("get", group="item")
def item_get(target: Target, uid: Arg("The item's uid.", str | None) = None, pos: PosOpt = None) -> None:
    """Show one queued item, by uid or --pos."""
    if (uid is None) == (pos is None):
        raise UsageError("name the item: its uid or --pos, one of them")
    _call(target, "item_get", None, uid=uid, pos=_pos(pos))


@cmd("update", group="item", context_settings=PLAN_CONTEXT)
def item_update(
    target: Target,
    uid: Arg("The queued item's uid."),
    plan: PlanArgs,
    replace: Flag("--replace", "Give the item a new uid.") = False,
    no_validate: NoValidateOpt = False,
) -> None:
    """Change a queued item in place (the same uid unless --replace)."""
    from .plan import parse_item

    item = parse_item(plan)
    with target.client() as qs:
        item = item if no_validate else qs.validate(item)
        target.emit(qs.item_update({**item, "item_uid": uid}, replace=replace or None), columns=views.ADDED)


@cmd("stop", destructive=True)
def stop(
    target: Target,
    cancel: Flag("--cancel", "Cancel a pending queue stop.") = False,
    plan: Flag("--plan", "Stop the paused plan (RunEngine stop: ends 'stopped').") = False,
) -> None:
    """Stop the queue after the running plan (or --cancel that; --plan stops a paused plan)."""
    if plan:
        return _call(target, "re_stop", "plan stopped")
    if cancel:
        return _call(target, "queue_stop_cancel", "queue stop cancelled")
    _call(target, "queue_stop", "the queue will stop after the running plan")


@cmd("autostart")
def autostart(target: Target, enable: Arg("on/off (true/false).", bool)) -> None:
    """Turn queue autostart on or off."""
    _call(target, "queue_autostart", f"autostart {'on' if enable else 'off'}", enable=enable)


@cmd("pause")
def pause(
    target: Target, immediate: Flag("--immediate", "Pause now, not at the next checkpoint.") = False
) -> None:
    """Pause the running plan (deferred: at its next checkpoint)."""
    _call(target, "re_pause", "pause requested", option="immediate" if immediate else "deferred")


cmd.group("history", help="Show finished items (or clear the history).")


@cmd(group="history", default=True)
def history(
    target: Target,
    last: Annotated[int | None, typer.Option("--last", "-n", help="Only the last N items.")] = None,
) -> None:
    """Show finished items with their exit status, scan ids and messages."""
    with target.client() as qs:
        items = qs.history_get().get("items", [])
    items = items if last is None else items[-last:] if last > 0 else []
    if target.json:
        return render.print_json(items)
    render.table(views.history_rows(items), views.HISTORY, empty="the history is empty")


@cmd("clear", group="history", destructive=True)
def history_clear(
    target: Target,
    size: Annotated[int | None, typer.Option("--size", min=0, help="Keep the last N items.")] = None,
    uid: Text("--uid", "Clear up to this item (included).") = None,
) -> None:
    """Clear the history, or all but its last --size items, or up to --uid."""
    if size is not None and uid is not None:
        raise UsageError("give --size or --uid, not both")
    _call(target, "history_clear", "history cleared", size=size, item_uid=uid)


# -- plans, devices, console, locks ---------------------------------------------------------------
@cmd("plans")
def plans(
    target: Target,
    name: Arg("Describe this plan's parameters.", str | None) = None,
    existing: ExistingOpt = False,
) -> None:
    """List the allowed plans (or --existing: all the environment defines), or describe one."""
    with target.client() as qs:
        if name is not None:
            info = qs.plan_info(name, existing=existing)
            rows = info if target.json else views.parameter_rows(info)
            return target.emit(rows, columns=views.PARAMETERS, title=name)
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
    uid: Flag("--uid", "Only the uid of the console buffer (it changes with each message).") = False,
) -> None:
    """RE Manager's console output; --follow then streams it (WebSocket, else polling)."""
    from .stream import console_lines

    if uid:
        return _call(target, "console_uid", None)
    with target.client() as qs:
        if not follow and target.json:
            return render.print_json({"text": qs.console_text(lines).rstrip("\n") if lines > 0 else ""})
        for msg in console_lines(qs, lines=lines, follow=follow, transport=transport, duration=for_):
            render.json_line({"msg": msg}) if target.json else render.line(msg.rstrip("\n"))


def _lock_key(target: Target, key: str | None) -> str:
    key = key or target.settings.get("lock_key")
    if not key:
        raise UsageError("a lock key is needed: --key KEY, --lock-key or $QSERVER_LOCK_KEY")
    return key


@cmd("lock")
def lock(
    target: Target,
    key: LockKeyOpt = None,
    environment: Flag("--env", "Lock the environment.") = False,
    queue_: Flag("--queue", "Lock the queue.") = False,
    note: Text("--note", "A note other users see.") = None,
    info: Flag("--info", "Only show the lock state.") = False,
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
    _call(target, "unlock", "unlocked", lock_key=_lock_key(target, key))


# -- functions, scripts, tasks, permissions, administration -----------------------------------------
@cmd("execute", group="function", timeout=60.0, context_settings=PLAN_CONTEXT)
def function_execute(
    target: Target,
    function: Arg("NAME ARG... KEY=VALUE, as for plans.", list[str]),
    background: BackgroundOpt = False,
    wait: WaitTaskOpt = False,
) -> None:
    """Run a function in the worker (one the startup code defines and the permissions allow)."""
    from .plan import parse_shorthand

    fn = parse_shorthand(function)
    with target.client() as qs:
        _task(
            target,
            qs,
            qs.function_execute(
                fn["name"], fn.get("args", ()), fn.get("kwargs"), run_in_background=background
            ),
            wait,
        )


@cmd("upload", group="script", timeout=60.0)
def script_upload(
    target: Target,
    file: Arg("The script (- for stdin)."),
    update_re: Flag("--update-re", "Let it replace RE and db.") = False,
    keep_lists: Flag("--keep-lists", "Do not add its plans and devices to the lists.") = False,
    background: BackgroundOpt = False,
    wait: WaitTaskOpt = False,
) -> None:
    """Run a Python script in the worker; the plans and devices it defines become usable."""
    from .plan import read_text

    script = read_text(file)
    with target.client() as qs:
        opts = {"update_lists": not keep_lists, "update_re": update_re, "run_in_background": background}
        _task(target, qs, qs.script_upload(script, **opts), wait)


@cmd("status", group="task")
def task_status(target: Target, uids: Arg("Task uids.", list[str])) -> None:
    """running, completed or not_found, for each task."""
    with target.client() as qs:
        reply = qs.task_status(uids[0] if len(uids) == 1 else uids)
    _ok(target, reply, str(reply.get("status")))


@cmd("result", group="task", timeout=60.0)
def task_result(target: Target, uid: Arg("The task's uid."), wait: WaitTaskOpt = False) -> None:
    """A task's status and result (its return value, or its error)."""
    with target.client() as qs:
        _task(target, qs, {"task_uid": uid}, True) if wait else target.emit(qs.task_result(uid))


@cmd("set", group="permissions")
def permissions_set(target: Target, file: Arg("YAML or JSON (- for stdin).")) -> None:
    """Replace the user group permissions with those in FILE (the format of the YAML file)."""
    from .plan import parse_data

    _call(target, "permissions_set", "permissions set", permissions=parse_data("@" + file, where=file))


@cmd("reload", group="permissions")
def permissions_reload(
    target: Target,
    plans_devices: Flag("--plans-devices", "Also reload the lists of plans and devices from disk.") = False,
    from_file: Flag("--from-file", "Reload the permissions from their file.") = False,
) -> None:
    """Reload the permissions (and with --plans-devices the lists of plans and devices)."""
    opts = {"restore_plans_devices": plans_devices or None, "restore_permissions": from_file or None}
    _call(target, "permissions_reload", "permissions reloaded", **opts)


@cmd("interrupt", group="kernel")
def kernel_interrupt(
    target: Target,
    task: Flag("--task", "Also interrupt a running task.") = False,
    plan: Flag("--plan", "Also interrupt a running plan.") = False,
) -> None:
    """Interrupt the worker's IPython kernel (a worker started as an IPython kernel only)."""
    _call(target, "kernel_interrupt", "interrupted", interrupt_task=task or None, interrupt_plan=plan or None)


@cmd("stop", group="manager", destructive=True)
def manager_stop(target: Target, unsafe: Flag("--unsafe", "Even with the environment open.") = False) -> None:
    """Stop RE Manager for good (refused while the environment is open, unless --unsafe)."""
    _call(target, "manager_stop", "RE Manager is stopping", safe=not unsafe)


@cmd("runs")
def runs(
    target: Target,
    open_: Flag("--open", "Only open runs.") = False,
    closed: Flag("--closed", "Only closed runs.") = False,
) -> None:
    """The RunEngine's runs (all, --open or --closed)."""
    if open_ and closed:
        raise UsageError("give --open or --closed, not both")
    with target.client() as qs:
        reply = qs.re_runs("open" if open_ else "closed" if closed else "active")
    target.emit(reply if target.json else reply.get("run_list") or [], columns=views.RUNS, empty="no runs")


@cmd("call")
def call(
    target: Target,
    method: Arg("GET, POST, DELETE or PUT."),
    path: Arg("The path under /api, e.g. /queue/get."),
    body: Arg("The JSON body (or @file, @- for stdin).", str | None) = None,
) -> None:
    """Call any endpoint and print the reply as the server sent it."""
    from .client import api_path
    from .plan import parse_data

    method, path = api_path(method, path)
    data = parse_data(body, where="the body") if body is not None else {}
    if not isinstance(data, dict):
        raise UsageError("the body must be a JSON object")
    with target.client() as qs:
        render.print_json(qs.call(method, path, data))


# -- logins -------------------------------------------------------------------------------------------
@cmd("login", timeout=30.0)
def login(
    target: Target,
    provider: Text("--provider", "The login provider (default: the server's only one).") = None,
    username: Text("--username", "The user name (default: asked).") = None,
    password_stdin: Flag(
        "--password-stdin", "Read the password from stdin (default: asked, hidden)."
    ) = False,
) -> None:
    """Log in with one of the server's providers; the tokens are kept (0600) and refreshed by themselves."""
    import getpass
    import sys

    username = username or typer.prompt("username")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else getpass.getpass("password: ")
    if not password:
        raise UsageError("no password given")
    with target.client() as qs:
        who = qs.login(username, password, provider=provider)
    _ok(target, who, f"logged in as {who['username']} ({who['provider']})")


@cmd("new", group="apikey")
def apikey_new(
    target: Target,
    expires_in: Text("--expires-in", "Seconds until it expires (default: never).", int) = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope it grants (default: inherit).")
    ] = None,
    note: Text("--note", "A note stored with it.") = None,
    principal: Text("--principal", "For this principal's uuid (an admin's right).") = None,
) -> None:
    """A new API key; its secret is printed this once (with --json: the "secret" field)."""
    _call(target, "apikey_new", None, expires_in=expires_in, scopes=scope, note=note, principal=principal)


@cmd("delete", group="apikey")
def apikey_delete(target: Target, first_eight: Arg("The key's first eight characters.")) -> None:
    """Revoke an API key, named by its first eight characters."""
    from .client import QueueServer

    QueueServer.check_first_eight(first_eight)
    _call(target, "apikey_delete", f"API key {first_eight}… revoked", first_eight=first_eight)


@cmd("principals")
def principals(target: Target, uuid: Arg("One principal's uuid.", str | None) = None) -> None:
    """The principals (users and services) the server knows (an admin's right)."""
    with target.client() as qs:
        render.print_json(qs.principals(uuid))


# -- the live view, and a queue server of one's own (monitor.py, launch.py) ------------------------------
@cmd("monitor", timeout=10.0)
def monitor(
    target: Target,
    history: Text("--history", "How many items of history to show (default 10).", int) = None,
    interval: Text("--interval", "Seconds between status reads (default 0.5).", float) = None,
    transport: TransportOpt = "auto",
) -> None:
    """A full-screen live view: RE Manager's state, the running plan, the queue, history, the console.

    Read-only; q quits. It needs a terminal.

    Elsewhere: queue --json, history --json, status --follow, console --follow.
    """
    from . import monitor as live
    from .stream import check_transport

    check_transport(transport)
    if history is not None and not 0 <= history <= 1000:
        raise UsageError(f"--history must be 0 to 1000, not {history}")
    if interval is not None and not 0.05 <= interval <= 60:
        raise UsageError(f"--interval must be 0.05 to 60 seconds, not {interval}")
    if target.json or not render.interactive():
        raise UsageError(
            "monitor is a full-screen view and needs a terminal (stdin and stdout)"
            + (", not --json" if target.json else ""),
            hint="in scripts: tether qserver queue --json, history --json, status --follow, console --follow",
        )
    qs = target.client()
    mon = live.Monitor(qs, history=HISTORY_DEFAULT if history is None else history)
    mon.refresh()
    if mon.error:  # not even a first status: say so plainly instead of drawing an empty screen
        from tether.errors import Unreachable

        raise Unreachable(f"the queue server does not answer: {mon.error}")
    endpoint = target.endpoint()
    where = qs.base_url if qs.door == "http" else qs.http.control
    if endpoint.extra.get("ssh"):  # the forward's local port means nothing to people: name the host's
        where = f"{endpoint.extra['ssh']} port {endpoint.extra.get('remote_port')}"
    where += f" ({qs.door}" + (f", {endpoint.version})" if endpoint.version else ")")
    console = live.ConsoleTail(qs, transport=transport)
    console.start()
    with render.screen() as screen:
        live.run(mon, screen, console, where=where, interval=interval or live.INTERVAL)


HISTORY_DEFAULT = 10
PortOwnOpt = Annotated[
    int | None,
    typer.Option(
        "--port", "-p", help="The HTTP server's port (--zmq-only: the 0MQ control port); default: free."
    ),
]


@cmd("launch", timeout=90.0, shared=("timeout", "json", "verbose"), settings=False)
def launch(
    target: Target,
    http_port: PortOwnOpt = None,
    zmq_only: Flag(
        "--zmq-only", "RE Manager alone, no HTTP server (tether talks to its 0MQ socket)."
    ) = False,
    profile: Text(
        "--profile", "Startup profile collection directory for the RE worker (default: simulated)."
    ) = None,
    redis: Text("--redis", "Use this redis HOST:PORT (default: start a private one).") = None,
    show_key: Flag("--show-key", "With --json: include the API key in the record.") = False,
) -> None:
    """Start a queue server from nothing: redis, RE Manager and the HTTP server, on free ports.

    Prints the lines to export (its URL, a new API key shown this once): eval "$(tether qserver launch)".

    Stop it all with: tether qserver shutdown.
    """
    from .launch import exports
    from .launch import launch as start

    with target.progress(
        "starting the queue server (redis, RE Manager" + ("" if zmq_only else ", HTTP server") + ")"
    ):
        rec = start(
            port=http_port, zmq_only=zmq_only, profile=profile, redis=redis, timeout=target.timeout or 90.0
        )
    if target.json:
        return render.print_json(
            {**rec.to_dict(with_key=show_key), "exports": exports(rec) if show_key else None}
        )
    door = f"RE Manager {rec.zmq_control} (pid {rec.pid})"
    where = door if rec.zmq_only else f"HTTP server {rec.url} (pid {rec.http_pid}) in front of {door}"
    render.note(f"queue server ready: {where}; redis {rec.redis}")
    if rec.api_key:
        render.note("its API key is printed below this once; `tether qserver shutdown` stops it all")
    for line in exports(rec):
        render.line(line)


@cmd("shutdown", timeout=15.0, shared=("timeout", "json", "verbose"), settings=False, destructive=True)
def shutdown(
    target: Target,
    server_port: Annotated[
        int | None, typer.Option("--port", "-p", help="Which one (its HTTP port, or its 0MQ control port).")
    ] = None,
) -> None:
    """Stop the queue server tether launched (HTTP server, RE Manager with its worker, redis), by pid."""
    from .launch import stop_launched

    rec, was_running = stop_launched(server_port, timeout=target.timeout or 15.0)
    target.emit(
        {"port": rec.port, "pid": rec.pid, "http_pid": rec.http_pid, "redis_pid": rec.redis_pid,
         "was_running": was_running},
        text=f"stopped the queue server on port {rec.port} (RE Manager pid {rec.pid})"
        if was_running else f"the queue server on port {rec.port} was gone; cleaned up",
    )  # fmt: skip


# -- help: the commands in panels, in this order (tether qserver --help) ---------------------------------
PANELS = {
    "Queue": ("add", "queue", "item", "remove", "move", "clear", "start", "stop", "autostart"),
    "Run": ("run", "monitor", "pause", "resume", "abort", "halt", "runs", "plans", "devices", "console",
            "function", "script", "task"),
    "Environment": ("status", "env", "ping", "config", "metadata", "kernel", "lock", "unlock"),
    "History": ("history",),
    "Admin": ("launch", "shutdown", "permissions", "manager", "call"),
    "Login": ("login", "logout", "whoami", "apikey", "principals"),
}  # fmt: skip


def _panels() -> None:
    """Give each command and group its panel, and list them panel by panel (typer lists the
    commands, then the groups, each in the order declared; a command no panel names comes last)."""
    from typer.core import TyperGroup

    panel_of = {name: panel for panel, names in PANELS.items() for name in names}
    for info in (*app.registered_commands, *app.registered_groups):
        info.rich_help_panel = panel_of.get(info.name or "", info.rich_help_panel)
    order = list(PANELS)

    class PanelGroup(TyperGroup):
        def list_commands(self, ctx: Any) -> list[str]:
            def rank(name: str) -> tuple[int, int]:
                panel = getattr(self.commands[name], "rich_help_panel", None)
                if panel not in order:
                    return len(order), 0
                names = PANELS[panel]
                return order.index(panel), names.index(name) if name in names else len(names)

            return sorted(super().list_commands(ctx), key=rank)

    app.info.cls = PanelGroup


_panels()
