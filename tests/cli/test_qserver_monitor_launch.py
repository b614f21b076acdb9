"""`tether qserver monitor`'s model and view, without a server or a terminal (the real ones:
tests/real/test_qserver_monitor.py), and `launch`'s input checks."""

from __future__ import annotations

import io

import pytest

from tether.errors import AuthError, TetherError, Unreachable, UsageError
from tether_qserver import launch as ql
from tether_qserver import monitor as qm


class FakeQS:
    """The client methods the monitor reads, counting each call."""

    door = "http"

    def __init__(self) -> None:
        self.st = {
            "manager_state": "idle",
            "worker_environment_exists": True,
            "worker_environment_state": "idle",
            "re_state": "idle",
            "items_in_queue": 1,
            "items_in_history": 1,
            "running_item_uid": None,
            "plan_queue_uid": "q1",
            "plan_history_uid": "h1",
            "run_list_uid": "r1",
        }
        self.queue = {
            "items": [{"name": "count", "args": [["det1"]], "kwargs": {"num": 3}, "item_uid": "u1"}]
        }
        failed = {"exit_status": "failed", "msg": "boom\nmore"}
        self.history = {"items": [{"name": "scan", "args": [], "item_uid": "u0", "result": failed}]}
        self.calls: list[str] = []
        self.fail: Exception | None = None

    def status(self, **kw):
        self.calls.append("status")
        if self.fail:
            raise self.fail
        return dict(self.st)

    def queue_get(self, **kw):
        self.calls.append("queue")
        return self.queue

    def history_get(self, **kw):
        self.calls.append("history")
        return self.history

    def re_runs(self, option="active"):
        self.calls.append("runs")
        return {"run_list": [{"uid": "run1", "is_open": True}]}

    def console_text(self, n):
        return "line one\nline two\n"


def text_of(renderable, size=(100, 30)) -> str:
    from rich.console import Console

    con = Console(width=size[0], height=size[1], file=io.StringIO(), record=True, color_system=None)
    con.print(renderable)
    return con.export_text()


def test_refresh_rereads_queue_and_history_only_when_their_uids_move():
    qs = FakeQS()
    mon = qm.Monitor(qs)
    assert mon.refresh() is True
    assert qs.calls == ["status", "queue", "history", "runs"]
    qs.calls.clear()
    assert mon.refresh() is False  # nothing changed: one status read, nothing else
    assert qs.calls == ["status"]
    qs.calls.clear()
    qs.st["plan_history_uid"] = "h2"
    assert mon.refresh() is True
    assert qs.calls == ["status", "history"]
    qs.calls.clear()
    qs.st["running_item_uid"] = "u1"  # the queue's first item started: the queue is read again
    mon.refresh()
    assert qs.calls == ["status", "queue"]


def test_running_item_elapsed_comes_from_its_time_start():
    qs = FakeQS()
    qs.st["running_item_uid"] = "u1"
    qs.queue = {
        "items": [],
        "running_item": {"name": "count", "item_uid": "u1", "properties": {"time_start": 100.0}},
    }
    mon = qm.Monitor(qs, clock=lambda: 165.0)
    mon.refresh()
    assert mon.running()["elapsed"] == 65.0
    assert "1:05" in text_of(qm.view(mon, None, (100, 30)))


def test_view_shows_state_queue_history_and_console_as_text_never_markup():
    qs = FakeQS()
    qs.queue["items"][0]["name"] = "[bold red]x[/]"
    mon = qm.Monitor(qs)
    mon.refresh()
    console = qm.ConsoleTail(qs)
    console.feed("[link=file:///etc]click[/link] half")
    console.feed(" done\nnext ")
    out = text_of(qm.view(mon, console, (110, 30), where="http://h:1 (http)"))
    assert "manager idle" in out and "env open" in out and "queue 1" in out
    assert "[bold red]x[/]" in out and '["det1"] num=3' in out
    assert "failed" in out and "boom" in out and "more" not in out  # the message's first line
    assert "[link=file:///etc]click[/link] half done" in out and "next" in out
    assert out.count("\n") <= 30


def test_server_errors_are_shown_and_a_refused_key_is_raised():
    qs = FakeQS()
    mon = qm.Monitor(qs)
    mon.refresh()
    qs.fail = Unreachable("RE Manager is gone")
    assert mon.refresh() is True and mon.error == "RE Manager is gone"
    assert "RE Manager is gone" in text_of(qm.view(mon, None, (140, 30)))
    qs.fail = None
    assert mon.refresh() is True and mon.error is None
    qs.fail = AuthError("key refused")
    with pytest.raises(AuthError):
        mon.refresh()


def test_console_tail_reports_why_its_stream_ended():
    def broken():
        yield "first\n"
        raise Unreachable("the console socket closed")

    tail = qm.ConsoleTail(FakeQS(), source=broken)
    tail.start()
    tail._thread.join(5)
    assert tail.tail(10)[-3:] == ["line one", "line two", "first"]
    assert tail.error == "the console socket closed"


class FakeScreen:
    def __init__(self, keys):
        self.keys = list(keys)
        self.size = (100, 30)
        self.drawn: list[tuple[int, int]] = []

    def update(self, renderable):
        self.drawn.append(self.size)
        text_of(renderable, self.size)  # renders without error at this size

    def key(self, timeout):
        key = self.keys.pop(0)
        if key == "":
            self.size = (60, 15)
        return key


def test_run_redraws_on_resize_and_quits_on_q():
    screen = FakeScreen([None, "", "x", "q", "never read"])
    qm.run(qm.Monitor(FakeQS()), screen, interval=0.0)
    assert screen.drawn[0] == (100, 30) and screen.drawn[-1] == (60, 15)
    assert screen.keys == ["never read"]


def test_monitor_needs_a_terminal_and_connects_to_nothing_without_one(cli, listener):
    code, _, err = cli("qserver", "monitor", "--port", str(listener.port))
    assert code == 2
    assert "needs a terminal" in err and "queue --json" in err and "console --follow" in err
    assert listener.connections == 0
    code, _, err = cli("qserver", "monitor", "--interval", "0", "--port", str(listener.port))
    assert code == 2 and "--interval" in err


# -- launch's checks: all before anything starts -------------------------------------------------------------
def test_launch_refuses_bad_profile_redis_and_port_before_starting(tmp_path, cli, state_dir):
    with pytest.raises(UsageError, match="no such directory"):
        ql.profile_args(tmp_path / "absent")
    with pytest.raises(UsageError, match="no startup files"):
        ql.profile_args(tmp_path)
    (tmp_path / "00-base.py").write_text("from ophyd.sim import det1\n")
    args = ql.profile_args(tmp_path)
    assert args[:2] == ["--startup-dir", str(tmp_path.resolve())]
    assert "--user-group-permissions" in args  # the simulated profile's, as the directory has none
    for bad in ("host:port", "h:0", "a b:1", "h:70000"):
        with pytest.raises(UsageError):
            ql.parse_redis(bad)
    assert ql.parse_redis("6379") == ("127.0.0.1", 6379)
    code, _, err = cli("qserver", "launch", "--profile", str(tmp_path / "absent"))
    assert code == 2 and "no such directory" in err
    assert not (state_dir / "qserver").exists() or not list((state_dir / "qserver").glob("*.json"))


def test_exports_name_the_clients_variables_and_no_key_without_one():
    rec = ql.Launched(app="qserver", key="1", pid=1, create_time=None, data={"url": "http://127.0.0.1:1",
                      "zmq_control": "tcp://127.0.0.1:2", "zmq_info": "tcp://127.0.0.1:3"})  # fmt: skip
    rec.api_key = "abc123"
    assert ql.exports(rec) == [
        "export QSERVER_HTTP_SERVER_URI=http://127.0.0.1:1",
        "export QSERVER_HTTP_SERVER_API_KEY=abc123",
    ]
    assert "api_key" not in rec.to_dict() and rec.to_dict(with_key=True)["api_key"] == "abc123"
    rec.data["url"] = None
    assert ql.exports(rec) == [
        "export QSERVER_ZMQ_CONTROL_ADDRESS=tcp://127.0.0.1:2",
        "export QSERVER_ZMQ_INFO_ADDRESS=tcp://127.0.0.1:3",
    ]


def test_shutdown_with_nothing_launched_is_not_found(cli, state_dir):
    code, _, err = cli("qserver", "shutdown")
    assert code == 3 and "no queue server launched by tether" in err


def test_a_console_source_that_cannot_start_is_an_error_line_not_a_crash():
    def refused():
        raise TetherError("console refused")

    tail = qm.ConsoleTail(FakeQS(), source=refused)
    tail.start()
    assert tail.error == "console refused" and tail._thread is None


def test_launch_starts_again_on_new_ports_when_one_was_taken_then_gives_up(tmp_path, state_dir, monkeypatch):
    """A redis whose port was taken meanwhile ("Address already in use"): three attempts, each on
    new ports, then Unreachable; nothing is left running, recorded or logged."""
    count = tmp_path / "attempts"
    fake = tmp_path / "fake-redis"
    fake.write_text(f"#!/bin/sh\necho \"$2\" >> {count}\necho 'bind: Address already in use'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(ql, "program", lambda name, package: str(fake))
    with pytest.raises(Unreachable, match="taken by another program 3 times"):
        ql.launch(zmq_only=True, timeout=5)
    ports = count.read_text().split()  # redis-server --port PORT …
    assert len(ports) == 3 and all(p.isdigit() for p in ports)
    assert not list((state_dir / "qserver").glob("*.json")) and not list(
        (state_dir / "qserver").glob("*.log")
    )
