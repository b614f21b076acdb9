"""The adapter registry (a broken plugin becomes a stub doctor shows) and the one exit-code mapping."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
import typer

from tether import errors, registry
from tether.cli import run


@pytest.fixture
def plugins(monkeypatch):
    """Install extra entry points beside the bundled ones."""

    def install(*extra: EntryPoint):
        registry._entry_points.cache_clear()
        real = registry._entry_points()
        monkeypatch.setattr(registry, "_entry_points", lambda: (*real, *extra))
        registry.adapters.cache_clear()

    yield install
    registry.adapters.cache_clear()


def test_bundled_adapters_load_through_the_entry_point_group():
    registry.adapters.cache_clear()
    names = [a.name for a in registry.adapters()]
    assert {"igv", "qserver", "firefox"} <= set(names)
    assert not any(
        isinstance(a, registry.UnavailableAdapter)
        for a in registry.adapters()
        if a.name in ("igv", "qserver", "firefox")
    )


def test_a_broken_third_party_adapter_becomes_an_unavailable_stub(plugins, capsys):
    plugins(
        EntryPoint("broken", "tether_no_such_module:Adapter", registry.GROUP),
        EntryPoint("notanadapter", "json:JSONDecoder", registry.GROUP),
    )
    by_name = {a.name: a for a in registry.adapters()}
    assert isinstance(by_name["broken"], registry.UnavailableAdapter)
    assert "ModuleNotFoundError" in by_name["broken"].reason
    assert isinstance(by_name["notanadapter"], registry.UnavailableAdapter)
    assert type(by_name["igv"]).__name__ == "IGVAdapter"  # the bundled ones still load beside them

    assert run(["doctor", "--json", "--timeout", "0.2"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {a["adapter"]: a for a in report["adapters"]}
    assert (
        rows["broken"]["state"] == "unavailable" and "tether_no_such_module" in rows["broken"]["problems"][0]
    )
    assert rows["igv"]["state"] == "ok"


def test_plugin_autoload_switch_keeps_to_the_bundled_adapters(plugins, monkeypatch):
    plugins(EntryPoint("broken", "tether_no_such_module:Adapter", registry.GROUP))
    monkeypatch.setenv("TETHER_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry.adapters.cache_clear()
    assert "broken" not in [a.name for a in registry.adapters()]


class _Half(registry.Adapter):
    name, title, default_ports = "half", "Half", (70000,)


class _Misnamed(registry.Adapter):
    name, title, default_ports = "other", "Misnamed", (1234,)

    def probe(self, host, port, timeout):
        raise AssertionError("never called")

    def connect(self, endpoint, **options):
        raise AssertionError("never called")


def test_an_adapter_is_validated_against_the_contract_when_loaded(plugins):
    plugins(
        EntryPoint("half", f"{__name__}:_Half", registry.GROUP),
        EntryPoint("misnamed", f"{__name__}:_Misnamed", registry.GROUP),
    )
    by_name = {a.name: a for a in registry.adapters()}
    assert isinstance(by_name["half"], registry.UnavailableAdapter)
    assert "default_ports" in by_name["half"].reason
    assert isinstance(by_name["misnamed"], registry.UnavailableAdapter)
    assert "'other' is not the entry point's name 'misnamed'" in by_name["misnamed"].reason


def test_bundled_adapters_are_those_of_tethers_own_distribution(plugins):
    plugins(EntryPoint("broken", "tether_no_such_module:Adapter", registry.GROUP))
    assert registry.distribution("igv")["bundled"] is True
    assert registry.distribution("igv")["distribution"] == "tether"
    assert registry.distribution("broken")["bundled"] is False  # no distribution declares it


def test_adapters_are_blocked_by_name(monkeypatch):
    monkeypatch.setenv("TETHER_DISABLE_ADAPTERS", "qserver, firefox")
    registry.adapters.cache_clear()
    try:
        assert [a.name for a in registry.adapters()] == ["igv"]
        with pytest.raises(errors.UsageError, match=r"disabled by \$TETHER_DISABLE_ADAPTERS") as info:
            registry.get("qserver")
        assert info.value.exit_code == 2 and isinstance(info.value, errors.NotFound)
    finally:
        monkeypatch.delenv("TETHER_DISABLE_ADAPTERS")
        registry.adapters.cache_clear()


def test_doctor_names_each_adapters_distribution(capsys):
    registry.adapters.cache_clear()
    assert run(["doctor", "--json", "--timeout", "0.2"]) == 0
    rows = {a["adapter"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
    assert rows["igv"]["distribution"] == "tether 0.1.0" and rows["igv"]["bundled"] is True


def test_unknown_adapter_name_is_usage_and_still_not_found():
    with pytest.raises(errors.NotFound, match="no adapter named 'nope'") as info:
        registry.get("nope")
    assert info.value.exit_code == 2  # an unknown app is bad usage, whichever command names it


CASES = [
    (errors.CommandError("refused", app_message="UNKOWN COMMAND: x"), 1),
    (errors.UsageError("bad locus"), 2),
    (errors.AmbiguousTarget("two", candidates=[]), 2),
    (errors.NotFound("none", looked_at=["127.0.0.1:60151"]), 3),
    (errors.Unreachable("refused"), 4),
    (errors.Busy("busy"), 4),
    (errors.Timeout("slow"), 4),
    (errors.ProtocolError("garbage"), 4),
    (errors.AuthError("key"), 5),
    (errors.WrongApp("http"), 6),
]


@pytest.mark.parametrize("exc,code", CASES, ids=[type(e).__name__ for e, _ in CASES])
def test_each_error_maps_to_its_documented_exit_code(exc, code, monkeypatch, capsys):
    app = typer.Typer()

    @app.command()
    def boom(json_: bool = typer.Option(False, "--json")) -> None:
        raise exc

    @app.command()
    def other() -> None:
        pass

    monkeypatch.setattr("tether.cli.app.build_app", lambda *args: app)
    assert exc.exit_code == code and code in errors.EXIT_CODES
    assert run(["boom"]) == code
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert run(["boom", "--json"]) == code
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == type(exc).__name__ and out["exit_code"] == code


def test_an_unexpected_bug_is_one_line_not_a_traceback(monkeypatch, capsys):
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise KeyError("oops")

    @app.command()
    def other() -> None:
        pass

    monkeypatch.setattr("tether.cli.app.build_app", lambda *args: app)
    assert run(["boom"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err


def test_bad_usage_exits_2(capsys):
    assert run(["scan", "--no-such-option"]) == 2


def test_errors_are_builtin_kinds_too():
    assert isinstance(errors.Timeout("x"), TimeoutError)
    assert isinstance(errors.Unreachable("x"), ConnectionError)
    assert isinstance(errors.UsageError("x"), ValueError)
    assert isinstance(errors.AuthError("x"), PermissionError)
