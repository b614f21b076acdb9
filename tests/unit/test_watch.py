"""tether.watch: scans turned into appeared/changed/gone events; wait's refusals and deadline."""

from __future__ import annotations

import time

import pytest

from tether import watch
from tether.endpoint import Confidence, Endpoint
from tether.errors import Timeout, UsageError


def ep(port: int, confidence: Confidence = Confidence.VERIFIED, pid: int = 10) -> Endpoint:
    return Endpoint(app="igv", host="127.0.0.1", port=port, title="IGV", confidence=confidence, pid=pid)


def scans(*results: list[Endpoint]):
    it = iter(results)
    return lambda: next(it)


def test_first_poll_reports_every_endpoint_as_appeared():
    w = watch.Watcher(scan=scans([ep(1), ep(2)]))
    assert [(e.kind, e.endpoint.port) for e in w.poll()] == [("appeared", 1), ("appeared", 2)]


def test_going_busy_is_a_change_naming_what_changed():
    w = watch.Watcher(scan=scans([ep(1)], [ep(1, Confidence.BUSY)], [ep(1, Confidence.BUSY)]))
    w.poll()
    (event,) = w.poll()
    assert event.kind == "changed" and event.to_dict()["changes"] == {"confidence": ["verified", "busy"]}
    assert w.poll() == []  # nothing changed: no event


def test_an_endpoint_missing_from_the_next_scan_is_gone():
    w = watch.Watcher(scan=scans([ep(1), ep(2)], [ep(2)]))
    w.poll()
    (event,) = w.poll()
    assert event.kind == "gone" and event.endpoint.port == 1
    assert [e.port for e in w.endpoints] == [2]


def test_event_json_has_the_documented_keys():
    (event,) = watch.Watcher(scan=scans([ep(5)])).poll()
    data = event.to_dict()
    assert data["event"] == "appeared" and data["endpoint"]["port"] == 5 and isinstance(data["time"], float)


def test_poll_every_stops_after_its_duration():
    w = watch.Watcher(scan=lambda: [])
    started = time.monotonic()
    polls = list(watch.poll_every(w, interval=0.1, duration=0.35))
    assert 0.35 <= time.monotonic() - started < 1.0
    assert 3 <= len(polls) <= 5


def test_wait_refuses_an_unknown_app_and_a_bad_port_before_probing():
    with pytest.raises(UsageError, match="no adapter named 'nope'"):
        watch.wait("nope", timeout=1)
    with pytest.raises(UsageError, match="out of range"):
        watch.wait("igv", port=70000, timeout=1)
    with pytest.raises(UsageError, match="positive"):
        watch.wait("igv", port=1, timeout=0)


def test_wait_times_out_with_the_last_reason(unused_port):
    started = time.monotonic()
    with pytest.raises(
        Timeout, match=r"IGV was not ready on 127\.0\.0\.1:\d+ within 0\.5 s .*last: "
    ) as info:
        watch.wait("igv", port=unused_port, timeout=0.5, interval=0.1)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert info.value.exit_code == 4


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
