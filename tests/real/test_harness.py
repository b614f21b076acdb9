"""The real-app harness itself: port choice and the retry when a chosen port is taken meanwhile."""

from __future__ import annotations

import pytest

from . import apps


def test_free_ports_are_distinct_even_when_many_are_asked_for():
    # Picking one port at a time repeats a port within 300 picks in ~96% of runs on Linux
    # (birthday odds over the even ephemeral ports); holding them all bound never does.
    ports = apps.free_ports(300)
    assert len(set(ports)) == 300


def test_a_port_collision_in_any_of_the_four_logs_is_recognised():
    assert apps._port_collision("ERROR:    [Errno 98] error while attempting to bind on address")
    assert apps._port_collision("zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:1')")
    assert apps._port_collision(
        "Could not create server TCP listening socket *:6379: bind: Address already in use"
    )
    assert not apps._port_collision("ModuleNotFoundError: No module named 'ophyd'")


def test_start_qserver_retries_a_collision_on_new_ports_and_gives_up_on_anything_else(monkeypatch, tmp_path):
    calls = []

    def once(workdir, timeout):
        calls.append(workdir)
        if len(calls) == 1:
            raise apps.AppFailed("HTTP server exited (code 3): [Errno 98] address already in use")
        return "started"

    monkeypatch.setattr(apps, "_start_qserver_once", once)
    assert apps.start_qserver(tmp_path) == "started"
    assert len(calls) == 2 and calls[0] != calls[1]  # a fresh workdir, so the logs of both tries survive

    calls.clear()

    def broken(workdir, timeout):
        calls.append(workdir)
        raise apps.AppFailed("RE Manager exited: ImportError")

    monkeypatch.setattr(apps, "_start_qserver_once", broken)
    with pytest.raises(apps.AppFailed, match="ImportError"):
        apps.start_qserver(tmp_path)
    assert len(calls) == 1
