"""The one CLI layer every adapter's commands go through.

An adapter's ``cli.py`` only declares commands and calls its client::

    from tether.cli.command import Commands, Target

    cmd = Commands("igv", help="Drive IGV.")
    app = cmd.app                                   # the typer.Typer mounted as ``tether igv``

    @cmd("goto", timeout=None)
    def goto(target: Target, loci: Annotated[list[str], typer.Argument(help="...")]) -> None:
        \"\"\"Go to one or several loci.\"\"\"
        reply = target.client().goto(*loci)
        target.emit(reply, text=reply.text)

:class:`Commands` adds the shared options to every command — ``--host --port --timeout --json -v``
and one option per :class:`~tether.adapter.Setting` the adapter declares (``--url``,
``--api-key`` …) — resolves them once (flags > environment > config file, as
``tether.connect`` does) into a :class:`Target`, turns on ``-v`` logging with every secret
masked, and hands the command the ``Target``. Errors are not caught in commands: :func:`exit_code`
is the one place that maps them to exit codes and prints them.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    import logging

from . import render
from .hosts import (
    DEFAULT_PARALLEL,
    STATUS_COLUMNS,
    FleetHostOpt,
    HostsFileOpt,
    ParallelOpt,
    fleet_out,
    status_rows,
)

#: every shared option; a command may take a subset (``shared=``)
SHARED = ("host", "port", "timeout", "json", "verbose")

HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        help="Host of the app (default: this machine); ssh://[USER@]HOST[:PORT] reaches it over OpenSSH. "
        "A remote host only when named here.",
    ),
]
SshConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--ssh-config",
        help="ssh_config file for an ssh:// host, passed to ssh -F (default: $TETHER_SSH_CONFIG).",
    ),
]


def complete_port(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of ``--port``: the ports where tether finds the app the command drives
    (``tether firefox title --port <TAB>``), with what answers there. A short scan (loopback
    probes, 0.3 s each at most); never raises: a failure completes nothing."""
    try:
        from .. import registry
        from ..api import scan

        names = {a.name for a in registry.adapters()}
        app, node = None, ctx
        while app not in names and node is not None:  # `tether firefox title --port`
            app, node = node.info_name, node.parent
        if app not in names:  # `tether wait firefox --port`: click leaves APP unparsed here
            import os

            typed = (os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or "").split()
            app = next((w for w in typed[1:] if w in names), None)
        if app not in names:
            return []
        found = scan([app], timeout=0.3)
        return [
            (
                str(e.port),
                f"{e.title} {e.version or ''} {e.confidence}".replace("  ", " ")
                + (f" pid {e.pid}" if e.pid else ""),
            )
            for e in found
            if str(e.port).startswith(incomplete)
        ]
    except Exception:
        return []


PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        help="Port of the app (skips the scan, never the probe).",
        autocompletion=complete_port,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log what is sent and received to stderr (secrets masked).")
]


@functools.cache
def _timeout_opt(default: float | None) -> Any:
    text = "Deadline in seconds for the command" + (
        "." if default is not None else " (default: the command's own deadline)."
    )
    return Annotated[float | None, typer.Option("--timeout", "-t", help=text)]


_KINDS: dict[str, Any] = {"str": str, "path": str, "int": int, "float": float, "bool": bool}


def _has_str_annotations(params: Sequence[inspect.Parameter]) -> bool:
    return any(isinstance(p.annotation, str) for p in params[1:])


@functools.lru_cache(maxsize=64)
def _shared_params(shared: tuple[str, ...], timeout: float | None) -> tuple[inspect.Parameter, ...]:
    """The shared options a command takes, as parameters (made once per combination: an
    adapter's commands share them, and building them for each is most of declaring one)."""
    common = {
        "host": (HostOpt, None),
        "port": (PortOpt, None),
        "timeout": (_timeout_opt(timeout), timeout),
        "json": (JsonOpt, False),
        "verbose": (VerboseOpt, False),
        "ssh_config": (SshConfigOpt, None),
    }
    return tuple(
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=common[n][1], annotation=common[n][0])
        for n in (*SHARED, "ssh_config")
        if n in shared
    )


_SETTING_PARAMS: dict[int, tuple[Any, inspect.Parameter]] = {}


def _setting_param(setting: Any) -> inspect.Parameter:
    """The option of ``setting`` (made once per setting: an adapter's thirty commands share it)."""
    have = _SETTING_PARAMS.get(id(setting))
    if have is not None and have[0] is setting:
        return have[1]
    param = _make_setting_param(setting)
    _SETTING_PARAMS[id(setting)] = (setting, param)
    return param


def _make_setting_param(setting: Any) -> inspect.Parameter:
    kind = _KINDS.get(setting.kind, str)
    help_text = setting.help
    if setting.env:
        help_text += f" [env: ${', $'.join(setting.env)}]"
    opt = typer.Option(setting.option, help=help_text, show_default=False)
    return inspect.Parameter(
        setting.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, opt]
    )


@dataclass(frozen=True)
class Declared:
    """A command as declared (what the MCP server and the docs read, so they never drift from
    the CLI): its path under ``tether``, the function, its own parameters, and its flags."""

    app: str
    path: tuple[str, ...]  # e.g. ("igv", "goto") or ("qserver", "env", "open")
    fn: Callable[..., Any]
    params: tuple[inspect.Parameter, ...]  # the command's own arguments and options
    shared: tuple[str, ...]
    settings: tuple[Any, ...]
    timeout: float | None
    destructive: bool  # stops or destroys something (exit, quit, env destroy, queue clear …)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.fn) or ""


#: every adapter's command set, by adapter name, as its cli module declared it
DECLARED: dict[str, Commands] = {}


@dataclass
class Target:
    """What a command is pointed at, resolved once from the shared options and the adapter's
    settings; ``endpoint()`` finds and verifies the app (once), ``client()`` connects to it."""

    app: str
    host: str | None = None  # a name or address, or ssh://[USER@]HOST[:PORT]
    port: int | None = None
    timeout: float | None = None  # the command deadline (None: the client's own per command)
    ssh_config: str | None = None  # ssh_config file for an ssh:// host (else $TETHER_SSH_CONFIG)
    json: bool = False
    verbose: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # resolved; secrets included, never printed
    secret_names: tuple[str, ...] = ()
    _endpoint: Any = None
    _clients: list[Any] = field(default_factory=list)
    _started: float = field(default_factory=lambda: __import__("time").monotonic())

    def deadline(self) -> Any:
        """The command's one deadline as a :class:`~tether.deadline.Deadline` (started with the
        command, ``seconds`` = ``--timeout``), or ``None`` without one: what :meth:`client` hands
        the adapter's ``attach``, so the lookup and the client's calls share it."""
        if self.timeout is None:
            return None
        from ..deadline import Deadline

        deadline = Deadline(self.timeout)
        deadline.at = self._started + self.timeout
        return deadline

    @property
    def probe_timeout(self) -> float:
        """The deadline of the scan or probe that finds the app (bounded by the command's)."""
        return min(self.timeout if self.timeout is not None else 2.0, 5.0)

    def endpoint(self) -> Any:
        """The verified endpoint (scan, or probe of ``--host``/``--port``); found once per command."""
        if self._endpoint is None:
            from ..api import locate

            self._endpoint = locate(
                self.app,
                self.host,
                self.port,
                settings=self.settings,
                probe_timeout=self.probe_timeout,
                ssh_config=self.ssh_config,
            )
        return self._endpoint

    def client(self, **options: Any) -> Any:
        """The adapter's client for the verified app: the settings, plus ``options``, reach it as
        ``tether.connect``'s ``client_options`` do, and the command's one deadline (``--timeout``,
        started with the command) as ``deadline``. When and how the app is looked up is the
        adapter's :meth:`~tether.adapter.Adapter.attach`: the core knows no app's ways."""
        from .. import registry

        opts = {**self.settings, **options}
        client = registry.get(self.app).attach(self.endpoint, deadline=self.deadline(), **opts)
        self._clients.append(client)
        return client

    def secrets(self) -> list[str]:
        """Every secret this command knows: secret settings, and those its clients hold."""
        out = [str(self.settings[n]) for n in self.secret_names if self.settings.get(n)]
        for client in self._clients:
            out.extend(s for s in getattr(client, "secrets", ()) or () if s)
        return out

    # -- output --------------------------------------------------------------------------------
    def emit(self, data: Any, **kw: Any) -> None:
        """Print ``data`` as the command's result (JSON with ``--json``; see :func:`render.emit`)."""
        render.emit(data, as_json=self.json, **kw)

    def progress(self, description: str, **kw: Any) -> Any:
        """A progress bar on a terminal, never with ``--json`` or when piped."""
        return render.progress(description, enabled=not self.json, **kw)


@functools.lru_cache(maxsize=1)
def _stderr_log() -> type:
    """The ``-v`` handler class (``logging`` is imported only when ``-v`` is given)."""
    import logging

    class _StderrLog(logging.Handler):
        """``-v`` output: each record on the current ``sys.stderr``."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(self.format(record) + "\n")
            except (OSError, ValueError):  # stderr closed (a pipe gone): nothing to report to
                pass

    return _StderrLog


@functools.lru_cache(maxsize=1)
def _logger() -> logging.Logger:
    import logging

    return logging.getLogger("tether")


def _verbose_on(target: Target) -> logging.Handler:
    import logging

    from ..transport.http import RedactingFilter

    handler = _stderr_log()()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(target.secrets))
    logger = _logger()
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return handler


def _verbose_off(handler: logging.Handler) -> None:
    import logging

    logger = _logger()
    logger.removeHandler(handler)
    if not any(isinstance(h, _stderr_log()) for h in logger.handlers):
        logger.setLevel(logging.NOTSET)


class Commands:
    """An adapter's command set: ``app`` is its typer app; calling the object declares a command.

    ``settings``: the adapter's declared settings (each becomes an option of every command);
    ``status``: add the ready-made ``status`` command (what was found where, or exit 3).
    """

    def __init__(self, app: str, *, help: str, settings: Sequence[Any] = (), status: bool = True) -> None:
        self.name = app
        self.settings = tuple(settings)
        self.app = typer.Typer(no_args_is_help=True, help=help)
        self._groups: dict[str, typer.Typer] = {}
        self.declared: list[Declared] = []
        DECLARED[app] = self
        if status:  # its --host is its own: repeatable (every host's instance, in parallel)
            self("status", timeout=2.0, shared=("port", "timeout", "json", "verbose"))(_status)

    def group(self, name: str, help: str) -> typer.Typer:
        """A sub-group (``tether qserver env …``); declare its commands with ``group=name``."""
        sub = typer.Typer(no_args_is_help=True, help=help)
        self.app.add_typer(sub, name=name)
        self._groups[name] = sub
        return sub

    def __call__(
        self,
        name: str | None = None,
        *,
        group: str | None = None,
        timeout: float | None = 10.0,
        shared: Iterable[str] = SHARED,
        settings: bool = True,
        destructive: bool = False,
        default: bool = False,
        **typer_kw: Any,
    ) -> Callable[[Callable], Callable]:
        """Declare ``fn(target: Target, ...)`` as a command; its other parameters are its own
        arguments and options. ``timeout`` is the default of ``--timeout`` (``None``: the
        client's own deadline per command); ``shared`` the shared options it takes;
        ``settings=False`` leaves the adapter's settings out (a command that connects nowhere);
        ``destructive`` marks a command that stops or destroys something (agents need
        ``--allow-destructive`` for it); ``default`` (with ``group``) makes it what the group
        does alone (``tether qserver queue`` lists the queue; ``queue mode`` is a subcommand)."""
        if default and not group:
            raise ValueError("default=True declares a group's own command: name the group")
        shared = tuple(shared)
        if "host" in shared and "ssh_config" not in shared:  # an ssh:// host may need its config file
            shared += ("ssh_config",)
        unknown = set(shared) - {*SHARED, "ssh_config"}
        if unknown:
            raise ValueError(f"unknown shared options: {', '.join(sorted(unknown))}")

        def deco(fn: Callable) -> Callable:
            sig = inspect.signature(fn)
            params = list(sig.parameters.values())
            if not params or params[0].name != "target":
                raise TypeError(f"{fn.__name__}: the first parameter of a command must be 'target'")
            # A cli.py with `from __future__ import annotations` has string annotations: typer
            # reads an option's name and help from the annotation object, so resolve them here.
            hints = typing.get_type_hints(fn, include_extras=True) if _has_str_annotations(params) else {}
            own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params[1:]]
            extra = list(_shared_params(shared, timeout))
            declared = self.settings if settings else ()
            extra += [_setting_param(s) for s in declared]
            taken = {p.name for p in own}
            clash = taken & {p.name for p in extra}
            if clash:
                raise TypeError(f"{fn.__name__}: parameters {sorted(clash)} clash with the shared options")

            @functools.wraps(fn)
            def wrapper(**kw: Any) -> Any:
                ctx = kw.pop("_tether_ctx", None)
                if ctx is not None and ctx.invoked_subcommand is not None:
                    return None  # a subcommand of the group runs, not the group's own command
                target = self._target(kw, declared, shared, default_timeout=timeout)
                handler = _verbose_on(target) if target.verbose else None
                try:
                    return fn(target, **kw)
                finally:
                    if handler is not None:
                        _verbose_off(handler)

            context = (
                [
                    inspect.Parameter(
                        "_tether_ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
                    )
                ]
                if default
                else []
            )
            wrapper.__signature__ = sig.replace(parameters=context + own + extra)  # type: ignore[attr-defined]
            wrapper.__annotations__ = {p.name: p.annotation for p in context + own + extra}
            parent = self._groups[group] if group else self.app
            if default:
                parent.info.no_args_is_help = False
                parent.callback(invoke_without_command=True, **typer_kw)(wrapper)
            else:
                parent.command(name, **typer_kw)(wrapper)
            cli_name = name or fn.__name__.replace("_", "-")
            self.declared.append(
                Declared(
                    app=self.name,
                    path=(self.name, *((group,) if group else ()), *(() if default else (cli_name,))),
                    fn=fn,
                    params=tuple(own),
                    shared=shared,
                    settings=tuple(declared),
                    timeout=timeout,
                    destructive=destructive,
                )
            )
            return fn

        return deco

    def _target(
        self,
        kw: dict[str, Any],
        declared: Sequence[Any],
        shared: Sequence[str],
        *,
        default_timeout: float | None,
    ) -> Target:
        from .. import config

        # only the shared options are the target's: a command's own --port (launch's) stays its own
        given = {n: kw.pop(n) if n in shared else None for n in ("host", "port")}
        ssh_config = kw.pop("ssh_config", None) if "host" in shared else None
        for s in declared:
            value = kw.pop(s.name, None)
            given[s.name] = None if (s.kind == "bool" and not value) else value  # a flag only turns on
        resolved = config.resolve(self.name, declared, given)
        return Target(
            app=self.name,
            host=resolved.pop("host", None),
            port=resolved.pop("port", None),
            timeout=kw.pop("timeout") if "timeout" in shared else default_timeout,
            json=bool(kw.pop("json")) if "json" in shared else False,
            verbose=bool(kw.pop("verbose")) if "verbose" in shared else False,
            ssh_config=ssh_config,
            settings=resolved,
            secret_names=tuple(s.name for s in declared if s.secret),
        )


def _status(
    target: Target,
    host: FleetHostOpt = None,
    hosts_file: HostsFileOpt = None,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    ssh_config: SshConfigOpt = None,
) -> None:
    """Show the instance tether finds (version, port, pid), or exit 3.

    With --host repeated (or --hosts FILE): each host's instance, in parallel, one row per host;
    a host where it is not found or that cannot be reached is listed with its error (exit 3/4)."""
    from .. import fleet

    hosts = fleet.hosts_from(host, hosts_file)
    if len(hosts) > 1 or hosts_file:
        with render.progress(f"looking on {len(hosts)} host(s)", enabled=not target.json):
            results = fleet.status(
                target.app,
                hosts,
                target.port,
                parallel=fleet.check_parallel(parallel),
                settings=target.settings,
                probe_timeout=target.probe_timeout,
                ssh_config=ssh_config,
            )
        fleet_out(results, status_rows, [("host", "HOST"), *STATUS_COLUMNS], target.json, empty="no host")
        return
    if hosts:
        target.host = hosts[0]
    target.ssh_config = ssh_config
    target.emit(target.endpoint(), columns=["app", "version", "host", "port", "pid", "process", "confidence"])


def exit_code(exc: BaseException, *, as_json: bool) -> int:
    """The exit-code map, in one place: print ``exc`` for people (or as JSON) and return its code.

    :class:`~tether.errors.TetherError` -> its ``exit_code`` (one line and a hint, or a JSON
    object with ``--json``); usage errors 2; Ctrl-C 130; a closed pipe 0; a bug 1, in one line
    (``TETHER_DEBUG=1`` re-raises it for the traceback).
    """
    import typer

    try:  # recent typer vendors click as typer._click; older ones use click itself
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover
        from click import exceptions as cx

    from ..errors import TetherError

    if isinstance(exc, TetherError):
        render.error(exc, as_json=as_json)
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        render.note("aborted" if isinstance(exc, typer.Abort) else "interrupted")
        return 130
    if isinstance(exc, cx.ClickException):  # usage errors: unknown option, missing argument …
        exc.show()
        return 2
    if isinstance(exc, BrokenPipeError):
        return 0
    import os

    if os.environ.get("TETHER_DEBUG"):
        raise exc
    render.error(
        TetherError(
            f"internal error: {type(exc).__name__}: {exc}", hint="rerun with TETHER_DEBUG=1 and report it"
        ),
        as_json=as_json,
    )
    return 1


__all__ = [
    "DECLARED",
    "SHARED",
    "Commands",
    "Declared",
    "HostOpt",
    "JsonOpt",
    "PortOpt",
    "SshConfigOpt",
    "Target",
    "VerboseOpt",
    "complete_port",
    "exit_code",
]
