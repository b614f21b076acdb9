"""The one settings resolver and the one CLI layer (tether.config.resolve, tether.cli.command)."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from tether import config
from tether.adapter import Setting
from tether.cli.command import SHARED, Commands, Target
from tether.errors import UsageError

SETTINGS = (
    Setting("url", "Server URL.", env=("APP_URI",)),
    Setting("api_key", "The key.", env=("APP_KEY",), secret=True),
    Setting("insecure", "No TLS checks.", kind="bool"),
    Setting("retries", "Tries.", kind="int", default=2),
)


@pytest.fixture
def conf(tmp_path, monkeypatch):
    for var in ("APP_URI", "APP_KEY", "TETHER_DEMO_URL", "TETHER_DEMO_API_KEY", "TETHER_DEMO_PORT"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "config.toml"
    monkeypatch.setenv("TETHER_CONFIG", str(path))
    return path


def test_settings_resolve_flag_then_app_env_then_tether_env_then_file_then_default(conf, monkeypatch):
    conf.write_text('[demo]\nurl = "http://file"\nport = 7\ninsecure = true\n')
    assert config.resolve("demo", SETTINGS) == {
        "url": "http://file",
        "port": 7,
        "insecure": True,
        "retries": 2,
    }
    monkeypatch.setenv("TETHER_DEMO_URL", "http://tether-env")
    assert config.resolve("demo", SETTINGS)["url"] == "http://tether-env"
    monkeypatch.setenv("APP_URI", "http://app-env")
    assert config.resolve("demo", SETTINGS)["url"] == "http://app-env"
    assert config.resolve("demo", SETTINGS, {"url": "http://flag"})["url"] == "http://flag"


def test_client_options_pass_through_and_none_means_not_given(conf):
    got = config.resolve("demo", SETTINGS, {"timeout": 30, "url": None, "port": None})
    assert got == {"timeout": 30, "retries": 2}


def test_a_bad_value_names_its_source_and_never_shows_a_secret(conf, monkeypatch):
    conf.write_text('[demo]\nretries = "many"\n')
    with pytest.raises(
        UsageError, match=r"retries from \[demo\] retries in .*config.toml is not a valid int"
    ):
        config.resolve("demo", SETTINGS)
    bad_secret = Setting("api_key", "k", kind="int", secret=True)
    monkeypatch.setenv("APP_KEY", "s3cr3t-value")
    with pytest.raises(UsageError) as err:
        config.resolve("demo", (Setting("api_key", "k", env=("APP_KEY",), kind="int", secret=True),))
    assert "s3cr3t-value" not in str(err.value) and "(hidden)" in str(err.value)
    assert bad_secret.option == "--api-key"


def _demo_commands(seen: list[Target]) -> Commands:
    cmd = Commands("demo", help="Demo.", settings=SETTINGS, status=False)
    env = cmd.group("env", help="Env.")
    assert isinstance(env, typer.Typer)

    @cmd("show", timeout=3.0)
    def show(target: Target, word: str) -> None:
        """Show the target."""
        seen.append(target)
        logging.getLogger("tether.demo").debug("sending %s with key %s", word, target.settings.get("api_key"))
        target.emit({"word": word})

    @cmd("open", group="env", timeout=None, shared=("json",), settings=False)
    def open_(target: Target) -> None:
        """Open."""
        seen.append(target)

    return cmd


def test_every_command_gets_the_shared_options_and_the_adapters_settings(conf):
    seen: list[Target] = []
    app = _demo_commands(seen).app
    runner = CliRunner()
    help_text = runner.invoke(app, ["show", "--help"]).output
    for opt in ("--host", "--port", "--timeout", "--json", "--verbose", "--url", "--api-key", "--insecure"):
        assert opt in help_text.split(), opt
    res = runner.invoke(app, ["show", "hi", "--port", "5", "--url", "http://x", "--json", "--insecure"])
    assert res.exit_code == 0, res.output
    t = seen[-1]
    assert (t.app, t.port, t.host, t.timeout, t.json) == ("demo", 5, None, 3.0, True)
    assert t.settings == {"url": "http://x", "insecure": True, "retries": 2}
    assert '"word": "hi"' in res.output
    # a command that takes only --json has no --port and no settings
    open_help = runner.invoke(app, ["env", "open", "--help"]).output.split()
    assert "--json" in open_help and "--port" not in open_help and "--url" not in open_help
    assert set(SHARED) == {"host", "port", "timeout", "json", "verbose"}


def test_verbose_output_masks_every_secret(conf, monkeypatch, capfd):
    seen: list[Target] = []
    app = _demo_commands(seen).app
    monkeypatch.setenv("APP_KEY", "k-12345-secret")
    from tether.cli.command import _verbose_off, _verbose_on

    res = CliRunner().invoke(app, ["show", "hi", "-v"])
    assert res.exit_code == 0
    assert "tether.demo: sending hi with key ***" in res.output and "k-12345-secret" not in res.output
    quiet = CliRunner().invoke(app, ["show", "hi"])
    assert "sending" not in quiet.output  # -v off again after the command
    target = seen[0]
    assert target.verbose and target.secrets() == ["k-12345-secret"]
    handler = _verbose_on(target)
    try:
        logging.getLogger("tether.demo").debug("key %s", "k-12345-secret")
    finally:
        _verbose_off(handler)
    err = capfd.readouterr().err
    assert "tether.demo: key ***" in err and "k-12345-secret" not in err


def test_a_command_must_take_target_first_and_may_not_shadow_a_shared_option():
    cmd = Commands("demo", help="Demo.", status=False)
    with pytest.raises(TypeError, match="first parameter"):

        @cmd("bad")
        def bad(word: str) -> None: ...

    with pytest.raises(TypeError, match="clash"):

        @cmd("clash")
        def clash(target: Target, port: int = 1) -> None: ...

    with pytest.raises(ValueError, match="unknown shared"):
        cmd("x", shared=("colour",))


def test_each_declared_command_is_recorded_for_other_front_ends():
    from tether.cli.command import DECLARED

    cmd = _demo_commands([])
    assert DECLARED["demo"] is cmd
    by_path = {d.path: d for d in cmd.declared}
    assert set(by_path) == {("demo", "show"), ("demo", "env", "open")}
    show = by_path[("demo", "show")]
    assert [p.name for p in show.params] == ["word"] and show.timeout == 3.0 and not show.destructive
    assert show.doc == "Show the target." and [s.name for s in show.settings] == [s.name for s in SETTINGS]
    assert by_path[("demo", "env", "open")].shared == ("json",)


def test_a_cli_module_with_postponed_annotations_keeps_its_option_names_and_help(tmp_path, monkeypatch):
    mod = tmp_path / "late_cli.py"
    mod.write_text(
        "from __future__ import annotations\n"
        "from typing import Annotated\n"
        "import typer\n"
        "from tether.cli.command import Commands, Target\n"
        "cmd = Commands('late', help='Late.', status=False)\n"
        "Fmt = Annotated[str | None, typer.Option('--format', help='File format.')]\n"
        "@cmd('load')\n"
        "def load(target: Target, format_: Fmt = None) -> None:\n"
        "    target.emit({'format': format_})\n"
        "@cmd('other')\n"
        "def other(target: Target) -> None: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import late_cli

    runner = CliRunner()
    help_text = runner.invoke(late_cli.cmd.app, ["load", "--help"]).output
    assert "--format " in help_text and "--format-" not in help_text and "File format." in help_text
    res = runner.invoke(late_cli.cmd.app, ["load", "--format", "bam", "--json"])
    assert res.exit_code == 0 and '"format": "bam"' in res.output


def test_a_commands_own_port_option_is_its_own_not_the_targets(conf):
    seen: list = []
    cmd = Commands("demo", help="Demo.", status=False)

    @cmd("launch", shared=("json",))
    def launch(target: Target, port: Annotated[int, typer.Option("--port")] = 0) -> None:
        seen.append((target.port, port))

    @cmd("other")
    def other(target: Target) -> None: ...

    res = CliRunner().invoke(cmd.app, ["launch", "--port", "4444"])
    assert res.exit_code == 0, res.output
    assert seen == [(None, 4444)]


def test_a_group_can_have_its_own_command_beside_its_subcommands(conf):
    seen: list = []
    cmd = Commands("demo", help="Demo.", status=False)
    cmd.group("queue", help="The queue.")

    @cmd(group="queue", default=True)
    def queue(target: Target, last: Annotated[int, typer.Option("--last")] = 0) -> None:
        """List the queue."""
        seen.append(("list", last, target.json))

    @cmd("mode", group="queue")
    def mode(target: Target) -> None:
        seen.append(("mode",))

    runner = CliRunner()
    assert runner.invoke(cmd.app, ["queue", "--last", "2", "--json"]).exit_code == 0
    assert runner.invoke(cmd.app, ["queue", "mode"]).exit_code == 0
    assert seen == [("list", 2, True), ("mode",)]  # the group's own command did not run for `mode`
    paths = {d.path for d in cmd.declared}
    assert paths == {("demo", "queue"), ("demo", "queue", "mode")}
    with pytest.raises(ValueError, match="name the group"):
        cmd(default=True)


def test_the_probe_and_the_calls_share_one_timeout(monkeypatch):
    """A server that takes 1.5 s to answer the probe and never answers the command: with
    --timeout 2 the command ends near 2 s, not 2 s after the probe (one deadline, not two)."""
    import time

    from tether.cli import run
    from tether.testing import FakeHTTP

    openapi = {"info": {"title": "Bluesky HTTP Server", "version": "0.0.14"}}

    def slow_probe(body):
        time.sleep(1.5)
        return 200, openapi

    def frozen(body):
        time.sleep(6)
        return 200, {}

    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", "k")
    with FakeHTTP() as fake:
        fake.routes[("GET", "/openapi.json")] = slow_probe
        fake.routes[("GET", "/api/queue/get")] = frozen
        started = time.monotonic()
        code = run(["qserver", "queue", "--port", str(fake.port), "--timeout", "2"])
        took = time.monotonic() - started
    assert code == 4
    assert took < 3.0, took  # 2 s and a margin; two deadlines in a row would be 3.5 s


def test_igvs_lazy_lookup_and_its_command_share_one_timeout():
    """IGV is found only at the first command (bad input never connects), yet its probe and the
    command still share --timeout: a probe answered after 1.5 s leaves 0.5 s for the goto."""
    import time

    from tether.cli import run
    from tether.testing import FakeServer, read_lines

    def slow_echo_then_silent(conn, server):
        for line in read_lines(conn):
            if line.strip() == b"echo":
                time.sleep(1.5)
                conn.sendall(b"echo\n")
            # anything else: IGV is stuck on it, no answer ever

    with FakeServer(slow_echo_then_silent) as server:
        started = time.monotonic()
        code = run(["igv", "goto", "chr1:1-100", "--port", str(server.port), "--timeout", "2"])
        took = time.monotonic() - started
    assert code == 4
    assert took < 3.0, took  # one 2 s deadline and a margin; the probe plus a fresh 2 s would be 3.5 s


class _Recording:
    """An adapter whose ``attach`` records what the core hands it."""

    name = "demo"

    def __init__(self, then=None) -> None:
        self.calls: list = []
        self.then = then

    def attach(self, locate, **options):
        self.calls.append((locate, options))
        return self.then(locate) if self.then else "client"


def test_the_core_leaves_the_lookup_to_the_adapters_attach_with_the_commands_deadline(monkeypatch):
    """Target.client never scans or probes itself: the adapter's attach gets ``locate`` (not yet
    called) and the command's one deadline, started with the command."""
    import time

    from tether import registry
    from tether.deadline import Deadline

    adapter = _Recording()
    monkeypatch.setattr(registry, "get", lambda name: adapter)
    located: list = []
    target = Target("demo", timeout=5.0, settings={"url": "http://x"})
    monkeypatch.setattr(target, "endpoint", lambda: located.append(1))
    time.sleep(0.2)
    assert target.client(extra=1) == "client"
    ((locate, options),) = adapter.calls
    assert not located  # the core did not look before the adapter asked
    assert options["url"] == "http://x" and options["extra"] == 1 and "timeout" not in options
    deadline = options["deadline"]
    assert isinstance(deadline, Deadline) and deadline.seconds == 5.0
    assert deadline.remaining() < 4.9  # started with the command, not at attach
    locate()
    assert located == [1]
    assert Target("demo").client() == "client" and adapter.calls[-1][1]["deadline"] is None


def test_a_busy_app_reaches_the_adapters_attach_which_may_retry(monkeypatch):
    """Busy is the adapter's to handle (Firefox retries while its session slot frees up): the
    core neither catches nor swallows it."""
    from tether import registry
    from tether.errors import Busy

    tries: list = []

    def retry_once(locate):
        try:
            return locate()
        except Busy:
            return locate()

    def endpoint():
        tries.append(1)
        if len(tries) == 1:
            raise Busy("held", host="127.0.0.1", port=1)
        return "endpoint"

    monkeypatch.setattr(registry, "get", lambda name: _Recording(then=retry_once))
    target = Target("demo", timeout=2.0)
    monkeypatch.setattr(target, "endpoint", endpoint)
    assert target.client() == "endpoint" and len(tries) == 2
    monkeypatch.setattr(registry, "get", lambda name: _Recording(then=lambda locate: locate()))
    target = Target("demo", timeout=2.0)
    monkeypatch.setattr(target, "endpoint", lambda: (_ for _ in ()).throw(Busy("held")))
    with pytest.raises(Busy):
        target.client()


def test_the_default_attach_gives_the_client_what_the_lookup_left():
    import time

    from tether.adapter import Adapter
    from tether.deadline import Deadline

    class Demo(Adapter):
        name = "demo"

        def connect(self, endpoint, **options):
            return endpoint, options

    def slow_locate():
        time.sleep(0.3)
        return "ep"

    endpoint, options = Demo().attach(slow_locate, deadline=Deadline(2.0), key="k")
    assert endpoint == "ep" and options["key"] == "k" and 1.5 < options["timeout"] <= 1.71
    assert Demo().attach(lambda: "ep", timeout=7) == ("ep", {"timeout": 7})
