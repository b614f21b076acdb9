"""Discovery with psutil mocked: wildcard/IPv6 mapping, dedupe, permission paths, the macOS path."""

from __future__ import annotations

import socket
from collections import namedtuple
from types import SimpleNamespace
from typing import ClassVar

import psutil
import pytest

from tether import discovery
from tether.endpoint import bind_scope, connect_host

Addr = namedtuple("Addr", "ip port")
Conn = namedtuple("Conn", "fd family type laddr raddr status pid")


def conn(ip, port, pid, family=socket.AF_INET, status=psutil.CONN_LISTEN):
    return Conn(3, family, socket.SOCK_STREAM, Addr(ip, port), (), status, pid)


class FakeProcess:
    table: ClassVar[dict] = {
        100: ("java", ["java", "-cp", "igv.jar", "org.broad.igv.ui.Main"], "me"),
        200: ("firefox-esr", ["firefox-esr", "--marionette"], "me"),
        300: ("python3", ["python3", "start-bluesky-httpserver"], "me"),
    }

    def __init__(self, pid):
        if pid not in self.table:
            raise psutil.NoSuchProcess(pid)
        self.pid = pid
        self.info = {"pid": pid, "name": self.table[pid][0], "username": self.table[pid][2]}

    def oneshot(self):
        from contextlib import nullcontext

        return nullcontext()

    def name(self):
        return self.table[self.pid][0]

    def cmdline(self):
        return self.table[self.pid][1]

    def username(self):
        return self.table[self.pid][2]


@pytest.fixture
def fake_psutil(monkeypatch):
    fake = SimpleNamespace(
        CONN_LISTEN=psutil.CONN_LISTEN,
        Error=psutil.Error,
        AccessDenied=psutil.AccessDenied,
        NoSuchProcess=psutil.NoSuchProcess,
        Process=FakeProcess,
        net_connections=None,
        process_iter=None,
    )
    monkeypatch.setattr(discovery, "_psutil", lambda: fake)
    return fake


def test_wildcard_binds_map_to_loopback():
    assert connect_host("0.0.0.0") == "127.0.0.1"
    assert connect_host("::") == "127.0.0.1"
    assert connect_host("::ffff:127.0.0.1") == "127.0.0.1"
    assert connect_host("::1") == "::1"
    assert connect_host("192.0.2.7") == "192.0.2.7"
    assert bind_scope("0.0.0.0") == "public" and bind_scope("::") == "public"
    assert bind_scope("127.0.0.1") == "local" and bind_scope("::1") == "local"


def test_system_wide_listing_keeps_listeners_and_maps_ipv6_wildcard(fake_psutil):
    fake_psutil.net_connections = lambda kind: [
        conn("::", 60151, 100, socket.AF_INET6),
        conn("127.0.0.1", 40000, 200),
        conn("127.0.0.1", 50000, 200, status=psutil.CONN_ESTABLISHED),  # a client socket, not a listener
    ]
    disc = discovery.list_listeners("linux")
    assert disc.permission == discovery.FULL
    by_port = {li.port: li for li in disc.listeners}
    assert set(by_port) == {60151, 40000}
    igv = by_port[60151]
    assert (igv.host, igv.bind, igv.family, igv.pid, igv.process) == ("127.0.0.1", "::", "ipv6", 100, "java")
    assert igv.cmdline[-1] == "org.broad.igv.ui.Main"


def test_dual_stack_rows_dedupe_to_one_per_pid_and_port(fake_psutil):
    fake_psutil.net_connections = lambda kind: [
        conn("::1", 60610, 300, socket.AF_INET6),
        conn("127.0.0.1", 60610, 300),
        conn("0.0.0.0", 60151, 100),
        conn("::", 60151, 100, socket.AF_INET6),
    ]
    listeners = discovery.list_listeners("linux").listeners
    assert [(li.port, li.bind) for li in listeners] == [(60151, "0.0.0.0"), (60610, "127.0.0.1")]


def test_sockets_of_other_users_are_listed_without_pid(fake_psutil):
    fake_psutil.net_connections = lambda kind: [conn("0.0.0.0", 6379, None), conn("127.0.0.1", 40000, 200)]
    disc = discovery.list_listeners("linux")
    assert disc.permission == discovery.PARTIAL
    unowned = next(li for li in disc.listeners if li.port == 6379)
    assert unowned.pid is None and "owner unknown" in unowned.note
    assert any("pid unknown" in n for n in disc.notes)


def test_denied_system_wide_listing_falls_back_to_per_process(fake_psutil, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "me")  # discovery imports getpass where it needs it

    def denied(kind):
        raise psutil.AccessDenied()

    fake_psutil.net_connections = denied
    fake_psutil.process_iter = lambda attrs: [_proc_with(200, [conn("127.0.0.1", 40000, None)])]
    disc = discovery.list_listeners("linux")
    assert [li.port for li in disc.listeners] == [40000]
    assert "denied" in disc.notes[0]


def test_listing_failure_is_reported_not_raised(fake_psutil):
    def broken(kind):
        raise OSError("no /proc/net/tcp")

    fake_psutil.net_connections = broken
    disc = discovery.list_listeners("linux")
    assert disc.permission == discovery.DENIED and disc.listeners == []
    assert "default" in disc.notes[0]


def _proc_with(pid, conns, *, fail=None, user="me"):
    proc = FakeProcess(pid)
    proc.info["username"] = user

    def net_connections(kind):
        if fail:
            raise fail
        return conns

    proc.net_connections = net_connections
    return proc


def test_macos_lists_per_process_for_the_current_user(fake_psutil, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "me")  # discovery imports getpass where it needs it

    def system_wide(kind):  # on macOS this needs root: it must not be called
        raise AssertionError("system-wide call used on macOS")

    fake_psutil.net_connections = system_wide
    fake_psutil.process_iter = lambda attrs: [
        _proc_with(100, [conn("0.0.0.0", 60151, None)]),
        _proc_with(200, [], fail=psutil.AccessDenied()),  # the random AccessDenied race (#1901)
        _proc_with(300, [conn("127.0.0.1", 60610, None)], user="someone-else"),
    ]
    disc = discovery.list_listeners("darwin")
    assert disc.method.startswith("per-process")
    assert [(li.port, li.pid, li.process) for li in disc.listeners] == [(60151, 100, "java")]
    assert disc.permission == discovery.PARTIAL
    assert "2 process(es)" in disc.notes[0]


def test_real_listing_sees_a_socket_we_open():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        listeners = discovery.list_listeners().listeners
    mine = [li for li in listeners if li.port == port]
    assert mine and mine[0].pid is not None and mine[0].host == "127.0.0.1"
