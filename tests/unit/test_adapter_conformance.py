"""Every registered adapter keeps the Adapter contract (``tether.testing.check_adapter``), and the
check itself catches the adapters that break it.

The adapters come from the registry — the bundled ones and the example third-party adapter
(examples/third_party_adapter, registered the way its entry point would be) — so a new adapter
is checked without anyone adding it here.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from unittest import mock

import pytest

from tether import registry
from tether.adapter import Adapter, Hint, ProbeResult, Verdict
from tether.testing import check_adapter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_adapter"
#: at least these must be checked: the bundled adapters and the example third-party one
EXPECTED = ("igv", "qserver", "firefox", "redis")


def registered_adapters() -> dict[str, Adapter]:
    """The registry's adapters, with the example third-party adapter's entry point added."""
    registry._entry_points.cache_clear()
    real = registry._entry_points()
    example = EntryPoint("redis", "tether_redis:RedisAdapter", registry.GROUP)
    env = {k: v for k, v in os.environ.items() if k != "TETHER_DISABLE_PLUGIN_AUTOLOAD"}
    with (
        mock.patch.object(registry, "_entry_points", lambda: (*real, example)),
        mock.patch.object(sys, "path", [str(EXAMPLE), *sys.path]),
        mock.patch.dict(os.environ, env, clear=True),
    ):
        registry.adapters.cache_clear()
        try:
            return {a.name: a for a in registry.adapters()}
        finally:
            registry.adapters.cache_clear()


ADAPTERS = registered_adapters()


def test_every_expected_adapter_is_registered_and_checked():
    assert set(EXPECTED) <= set(ADAPTERS), f"registered: {sorted(ADAPTERS)}"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_adapter_keeps_the_adapter_contract(name):
    adapter = ADAPTERS[name]
    if isinstance(adapter, registry.UnavailableAdapter):
        assert name not in EXPECTED, f"{name} failed to load: {adapter.reason}"
        pytest.skip(f"{name} is installed but unavailable: {adapter.reason}")
    report = check_adapter(adapter)
    assert report.ok and {p.case for p in report.probes} >= {"closed-port", "silent-port", "http-server"}
    closed = next(p for p in report.probes if p.case == "closed-port")
    assert closed.verdict == Verdict.UNREACHABLE


# -- the check catches what breaks the contract ---------------------------------------------------


class Honest(Adapter):
    """A minimal adapter that keeps the contract: nothing verifies, failures map to verdicts."""

    name, title, default_ports = "honest", "Honest", (47999,)

    def probe(self, host, port, timeout):
        end = time.monotonic() + timeout  # one deadline, started before connecting
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(max(0.01, end - time.monotonic()))
                return ProbeResult(Verdict.NOT_ME if s.recv(64) else Verdict.UNKNOWN)
        except ConnectionRefusedError:
            return ProbeResult(Verdict.UNREACHABLE)
        except OSError:
            return ProbeResult(Verdict.BUSY)

    def connect(self, endpoint, **options):
        return endpoint


def failures(adapter) -> str:
    report = check_adapter(adapter, timeout=0.3, margin=1.0, strict=False)
    assert not report.ok
    return "\n".join(report.failures)


def test_a_minimal_honest_adapter_passes():
    assert check_adapter(Honest(), timeout=0.3, margin=1.0).ok


def test_check_raises_an_assertion_naming_the_adapter():
    class Gullible(Honest):
        def probe(self, host, port, timeout):
            return ProbeResult(Verdict.VERIFIED)

    with pytest.raises(AssertionError, match=r"adapter 'honest'.*BREAKS the contract"):
        check_adapter(Gullible(), timeout=0.3, margin=1.0)


def test_a_probe_that_verifies_anything_or_raises_is_caught():
    class Gullible(Honest):
        def probe(self, host, port, timeout):
            return ProbeResult(Verdict.VERIFIED)

    class Raising(Honest):
        def probe(self, host, port, timeout):
            raise ConnectionRefusedError("boom")

    gullible = failures(Gullible())
    assert "closed port" in gullible and "said 'verified'" in gullible and "http server" in gullible
    assert "raised ConnectionRefusedError: boom" in failures(Raising())


def test_a_probe_that_overruns_its_timeout_or_hangs_is_caught_without_hanging_the_check():
    release = threading.Event()

    class Slow(Honest):
        def probe(self, host, port, timeout):
            time.sleep(timeout + 1.2)
            return super().probe(host, port, timeout)

    class Hanging(Honest):
        def probe(self, host, port, timeout):
            release.wait(60)
            return ProbeResult(Verdict.UNKNOWN)

    started = time.monotonic()
    slow, hanging = failures(Slow()), failures(Hanging())
    release.set()
    assert "more than its timeout 0.3s + 1.0s" in slow and "remaining probe cases were not run" in slow
    assert "hung: no verdict after" in hanging
    assert time.monotonic() - started < 15


def test_a_probe_that_talks_too_much_or_leaves_the_connection_open_is_caught():
    kept: list = []

    class Chatty(Honest):
        def probe(self, host, port, timeout):
            try:
                s = socket.create_connection((host, port), timeout=timeout)
            except OSError:
                return ProbeResult(Verdict.UNREACHABLE)
            s.sendall(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"x" * 2000 + b"\r\n\r\n")
            kept.append(s)  # never closed
            return ProbeResult(Verdict.UNKNOWN)

    found = failures(Chatty())
    assert "more than 1024" in found and "left a connection open" in found
    for s in kept:
        s.close()


def test_bad_attributes_signatures_and_hints_are_caught():
    class Sloppy(Honest):
        name, title, default_ports = "Sloppy App", "", [80]

        def hints(self, listener):
            return Hint("anything goes", "port")

        def connect(self, endpoint):
            return endpoint

    found = failures(Sloppy())
    for rule in ("name must be", "title must be", "default_ports must be", "claims a sshd listener"):
        assert rule in found
    assert "connect(endpoint, **options)" in found


def test_an_adapter_that_never_hints_its_default_port_is_caught():
    class Blind(Honest):
        def hints(self, listener):
            return None

    assert "no hint for its default port 47999" in failures(Blind())


def test_a_probe_whose_deadline_starts_after_connecting_overruns_and_fails():
    """The example adapter's old bug: a fresh timeout for the reads after a slow connect makes
    a probe take up to twice its timeout. A port whose backlog is full connects ~1 s late."""

    class Restarting(Honest):
        def probe(self, host, port, timeout):
            try:
                with socket.create_connection((host, port), timeout=timeout) as s:
                    s.settimeout(timeout)  # the whole timeout again, after the connect took its part
                    return ProbeResult(Verdict.NOT_ME if s.recv(64) else Verdict.UNKNOWN)
            except ConnectionRefusedError:
                return ProbeResult(Verdict.UNREACHABLE)
            except OSError:
                return ProbeResult(Verdict.BUSY)

    report = check_adapter(Restarting(), timeout=0.3, strict=False)
    slow = next(p for p in report.probes if p.case == "slow-connect")
    assert slow.seconds > 2.0, report  # ~1 s connecting, then a whole 1.25 s of reading
    assert any("slow connect" in f and "after connecting" in f for f in report.failures), report
    fine = check_adapter(Honest(), timeout=0.3)
    assert next(p for p in fine.probes if p.case == "slow-connect").seconds < 2.0


def test_the_slow_connect_fake_connects_late_then_serves():
    from tether.testing import FakeServer

    with FakeServer(lambda conn, server: conn.sendall(b"hi"), full_backlog_for=0.5) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
            connected = time.monotonic() - started
            s.settimeout(2)
            assert s.recv(2) == b"hi"
    assert 0.5 < connected < 2.5 and server.connections == 1


def test_an_attach_that_refuses_the_commands_deadline_breaks_the_contract():
    class OldAttach(Honest):
        def attach(self, locate, *, lazy=False):
            return locate()

    assert "must accept the command's deadline=" in failures(OldAttach())


def test_the_example_adapters_own_tests_pass():
    """examples/third_party_adapter/tests: what the README's "Writing an adapter" asks of a new
    adapter (the contract check, its protocol against tether's generic fakes), run as its author would."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE / "tests"), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout
