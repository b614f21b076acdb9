"""IGV's framing against a fake IGV in a thread: faults the real IGV 2.16 cannot be made to produce
on demand (a listener that dies mid-reply, multi-line errors), and the wire discipline
(nothing sent before IGV serves us, nothing resent after a timeout)."""

from __future__ import annotations

import threading
import time

import pytest

from tether.errors import Busy, CommandError, Timeout, Unreachable, UsageError
from tether.testing import FakeServer
from tether_igv.client import IGVClient
from tether_igv.protocol import IGVConnection
from tether_igv.testing import fake_igv


def client(server: FakeServer, **kw) -> IGVClient:
    kw.setdefault("timeouts", {"ready": 1.0, "goto": 3.0, "echo": 2.0})
    return IGVClient("127.0.0.1", server.port, check_loci=False, **kw)


def test_ok_reply_is_success_without_an_echo_round_trip():
    with fake_igv({}) as server:
        reply = client(server).goto("chr1:1-100")
        time.sleep(0.1)
    assert reply.ok and reply.text == "OK"
    sent = server.received[0].decode()
    assert sent.count("goto chr1:1-100\n") == 1
    assert sent.count("echo ") == 1  # only the readiness echo before the command


def test_silent_failure_is_a_command_error_found_by_the_nonce():
    with fake_igv({"colorBy": None}) as server:
        igv = client(server, grace=0.1)
        started = time.monotonic()
        with pytest.raises(CommandError) as info:
            igv.send("colorBy FOO")
        elapsed = time.monotonic() - started
        assert igv.echo("still") == "still"
    assert info.value.detail["reason"] == "silent"
    assert "silently" in info.value.message
    assert elapsed < 1.0


def test_multi_line_error_stays_framed_and_the_next_command_works():
    with fake_igv({"load": b"Error: File not found: /x\n\n"}) as server:
        igv = client(server)
        with igv.session():
            with pytest.raises(CommandError) as info:
                igv.send("load /x")
            assert igv.goto("chr1:5-10").text == "OK"
    assert info.value.app_message == "Error: File not found: /x"


@pytest.mark.parametrize("reply", [b"UNKOWN COMMAND: frobnicate\n", b"UNKNOWN COMMAND: frobnicate\n"])
def test_unknown_command_in_either_spelling_is_a_command_error(reply):
    with fake_igv({"frobnicate": reply}) as server, pytest.raises(CommandError) as info:
        client(server).send("frobnicate")
    assert "does not know" in info.value.message


def test_listener_dying_before_the_reply_is_unreachable_with_the_recovery():
    with fake_igv({"goto": b"CLOSE"}) as server, pytest.raises(Unreachable) as info:
        client(server).goto("chr1:1-100")
    assert info.value.exit_code == 4
    assert "Enable port" in (info.value.hint or "")


def test_connected_but_never_served_is_busy_and_the_command_is_never_written():
    hold = threading.Event()
    with fake_igv({}, hold=hold) as server:
        started = time.monotonic()
        with pytest.raises(Busy) as info:
            client(server, timeouts={"ready": 0.5}).goto("chr1:1-100")
        elapsed = time.monotonic() - started
        hold.set()
        time.sleep(0.2)
    assert elapsed < 2.0
    assert "another client" in info.value.message
    assert b"goto" not in b"".join(server.received)


def test_timeout_mid_command_closes_and_never_resends():
    with fake_igv({}, stall_after="load") as server:
        igv = client(server, timeouts={"ready": 1.0, "load": 0.5})
        with pytest.raises(Timeout) as info:
            igv.send("load /data/big.bam")
        time.sleep(0.2)
    assert "mid-command" in info.value.message
    assert b"".join(server.received).count(b"load /data/big.bam") == 1
    assert server.connections == 1


def test_refused_connection_is_unreachable():
    with fake_igv({}) as server:
        port = server.port
    with pytest.raises(Unreachable) as info:
        IGVClient("127.0.0.1", port, timeouts={"connect": 1.0}).echo()
    assert info.value.exit_code == 4 and not isinstance(info.value, Busy)


def test_injection_is_refused_before_connecting():
    with fake_igv({}) as server:
        igv = client(server)
        for bad in ("chr1:1-100\nexit", "chr1:1-100\rexit", "chr1\x00"):
            with pytest.raises(UsageError):
                igv.goto(bad)
        with pytest.raises(UsageError):
            igv.send("echo hi\nexit")
        with pytest.raises(UsageError):
            igv.send("GET /goto?locus=chr1 HTTP/1.1")
    assert server.connections == 0


@pytest.mark.parametrize("lazy", [True, False])
def test_echo_always_framing_stays_in_step_over_a_long_connection(lazy):
    with fake_igv({"colorBy": None}) as server:
        conn = IGVConnection.open("127.0.0.1", server.port, confirm="always", lazy=lazy)
        try:
            for i in range(20):
                assert conn.execute(f"goto chr1:{i + 1}-{i + 50}", 2.0).ok
            with pytest.raises(CommandError):
                conn.execute("colorBy FOO", 2.0)
            assert conn.execute("echo x", 2.0, query=True).text == "x"
        finally:
            conn.close()


def test_session_keeps_one_connection_and_short_lived_calls_do_not():
    with fake_igv({}) as server:
        igv = client(server)
        with igv.session():
            for i in range(5):
                igv.goto(f"chr1:{i + 1}-100")
        assert server.connections == 1
        igv.goto("chr1:1-100")
        igv.goto("chr1:1-100")
        time.sleep(0.1)
        assert server.connections == 3


def test_execute_many_writes_the_lines_at_once_and_reads_one_ok_each():
    with fake_igv({}) as server:
        igv = client(server)
        with igv.session():
            replies = igv.execute_many(["goto chr1:1-100", "sort base chr1:50", "snapshot a.png"])
            assert igv.goto("chr1:5-10").ok  # still in step
        time.sleep(0.1)
    assert [r.text for r in replies] == ["OK", "OK", "OK"]
    sent = b"".join(server.received).decode()
    assert "goto chr1:1-100\nsort base chr1:50\nsnapshot a.png\n" in sent  # one write, no echo between
    assert sent.count("echo ") == 1  # only the readiness echo


@pytest.mark.parametrize("silent", ["goto", "sort", "snapshot"])
def test_execute_many_reports_a_silent_line_and_stays_in_step(silent):
    with fake_igv({silent: None}) as server:
        igv = client(server, grace=0.1)
        with igv.session():
            with pytest.raises(CommandError) as info:
                igv.execute_many(["goto chr1:1-100", "sort base chr1:50", "snapshot a.png"])
            assert igv.echo("after") == "after"  # every reply was read: the next answer is ours
    assert info.value.detail["reason"] == "silent"
    assert "2 answer(s) for 3 line(s)" in info.value.message  # which one is not known: all named
    assert "'sort base chr1:50'" in info.value.message


def test_execute_many_blames_an_error_text_on_its_line_and_stays_in_step():
    with fake_igv({"sort": b"Error: no alignments\n\n"}) as server:
        igv = client(server, grace=0.1)
        with igv.session():
            with pytest.raises(CommandError) as info:
                igv.execute_many(["goto chr1:1-100", "sort base chr1:50", "snapshot a.png"])
            assert igv.echo("after") == "after"
    assert info.value.detail["command"] == "sort base chr1:50"
    assert info.value.app_message.startswith("Error: no alignments")


def test_execute_many_refuses_an_injected_line_before_connecting():
    igv = IGVClient("127.0.0.1", 9, check_loci=False)
    with pytest.raises(UsageError):
        igv.execute_many(["goto chr1:1-100", "snapshot a.png\nexit"])
