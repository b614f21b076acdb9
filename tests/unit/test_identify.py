"""The probe engine: only hinted listeners get active probes, deadlines hold, busy is not absent."""

from __future__ import annotations

import json
import threading
import time

from tether.adapter import Adapter, Hint, ProbeResult, Verdict
from tether.endpoint import Listener
from tether.identify import gather, identify
from tether.testing import FakeServer, close_at_once, http_400, silent
from tether_firefox.adapter import FirefoxAdapter
from tether_firefox.probe import probe_marionette
from tether_igv.probe import probe_igv
from tether_qserver.probe import probe_openapi

BUSY, NOT_ME, UNREACHABLE, VERIFIED = Verdict.BUSY, Verdict.NOT_ME, Verdict.UNREACHABLE, Verdict.VERIFIED
UNKNOWN_VERDICT = Verdict.UNKNOWN


def listener(port, **kw):
    return Listener(host="127.0.0.1", port=port, bind="127.0.0.1", **kw)


class Recording(Adapter):
    name, title = "rec", "Recording"

    def __init__(self, hinted_ports=(), verdict=VERIFIED, barrier=None, raise_exc=None):
        self.hinted_ports = set(hinted_ports)
        self.verdict = verdict
        self.probed: list[int] = []
        self.barrier = barrier
        self.raise_exc = raise_exc
        self.default_ports = ()

    def hints(self, li):
        return Hint("test", "process") if li.port in self.hinted_ports else None

    def probe(self, host, port, timeout):
        self.probed.append(port)
        if self.barrier:
            self.barrier.wait(timeout=5)  # all probes must be in flight together
        if self.raise_exc:
            raise self.raise_exc
        return ProbeResult(self.verdict, version="9.9")


def test_active_probes_only_go_to_hinted_listeners():
    adapter = Recording(hinted_ports={1001})
    eps = identify(gather([listener(1001), listener(1002)], (adapter,)), (adapter,))
    assert adapter.probed == [1001]
    by_port = {e.port: e for e in eps}
    assert by_port[1001].confidence == "verified" and by_port[1001].version == "9.9"
    assert by_port[1002].app is None and by_port[1002].confidence == "unknown"


def test_probes_run_in_parallel():
    barrier = threading.Barrier(4)
    adapter = Recording(hinted_ports={1, 2, 3, 4}, barrier=barrier)
    eps = identify(gather([listener(p) for p in (1, 2, 3, 4)], (adapter,)), (adapter,))
    assert not barrier.broken
    assert sorted(e.port for e in eps if e.verified) == [1, 2, 3, 4]


def test_a_probe_that_raises_does_not_break_the_scan():
    adapter = Recording(hinted_ports={7}, raise_exc=RuntimeError("bug"))
    (ep,) = identify(gather([listener(7)], (adapter,)), (adapter,))
    assert ep.confidence == "hinted" and "bug" in ep.detail


def test_no_probe_mode_sends_nothing_and_reports_hints():
    adapter = Recording(hinted_ports={5})
    (ep,) = identify(gather([listener(5)], (adapter,)), (adapter,), probe=False)
    assert adapter.probed == [] and ep.confidence == "hinted"


def test_an_unlisted_default_port_with_nothing_behind_it_is_not_reported():
    class WithDefault(Recording):
        def probe(self, host, port, timeout):
            self.probed.append(port)
            return ProbeResult(UNREACHABLE)

    adapter = WithDefault()
    adapter.default_ports = (1,)
    adapter.hints = lambda li: Hint("default", "port") if li.port == 1 else None
    assert identify(gather([], (adapter,)), (adapter,)) == []
    assert adapter.probed == [1]  # tried even though the listing did not show it


def test_igv_probe_reports_a_silent_port_as_busy_within_its_deadline():
    with FakeServer(silent) as srv:
        started = time.monotonic()
        res = probe_igv("127.0.0.1", srv.port, 0.3)
        assert time.monotonic() - started < 3
    assert res.verdict == BUSY and "silent" in res.detail


def test_igv_probe_sends_only_echo_to_a_stranger_and_says_not_me():
    with FakeServer(http_400) as srv:
        res = probe_igv("127.0.0.1", srv.port, 1.0)
        time.sleep(0.1)
        assert srv.received == [b"echo\n"]
    assert res.verdict == NOT_ME and "HTTP/1.0 400" in res.detail


def test_marionette_probe_calls_close_without_greeting_busy():
    with FakeServer(close_at_once) as srv:
        assert probe_marionette("127.0.0.1", srv.port, 1.0).verdict == BUSY


def test_marionette_probe_sends_nothing_and_rejects_another_greeting():
    def devtools(conn, server):
        body = json.dumps({"from": "root", "applicationType": "browser", "traits": {}}).encode()
        conn.sendall(str(len(body)).encode() + b":" + body)
        conn.wait_closed(2)

    with FakeServer(devtools) as srv:
        res = probe_marionette("127.0.0.1", srv.port, 1.0)
        time.sleep(0.1)
        assert srv.received == [b""]
    assert res.verdict == NOT_ME and "browser" in res.detail


def test_marionette_probe_rejects_garbage_framing():
    def garbage(conn, server):
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.wait_closed(2)

    with FakeServer(garbage) as srv:
        assert probe_marionette("127.0.0.1", srv.port, 1.0).verdict == NOT_ME


def test_deep_scan_finds_marionette_by_its_banner_on_an_unhinted_port():
    def greeting(conn, server):
        body = b'{"applicationType":"gecko","marionetteProtocol":3}'
        conn.sendall(str(len(body)).encode() + b":" + body)
        conn.wait_closed(2)

    ff = FirefoxAdapter()
    with FakeServer(greeting) as srv:
        cands = [c for c in gather([listener(srv.port)], (ff,)) if c.listener.port == srv.port]
        (shallow,) = identify(cands, (ff,))
        (deep,) = identify(cands, (ff,), deep=True)
    assert shallow.app is None
    assert deep.app == "firefox" and deep.confidence == "verified"


def test_openapi_probe_tells_another_http_api_apart():
    def other_api(conn, server):
        conn.recv()
        body = json.dumps({"openapi": "3.1.0", "info": {"title": "Some Other API", "version": "1"}}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )

    with FakeServer(other_api) as srv:
        res = probe_openapi("127.0.0.1", srv.port, 1.0)
    assert res.verdict == NOT_ME and "Some Other API" in res.detail


def test_openapi_probe_gives_unknown_not_absent_on_silence():
    with FakeServer(silent) as srv:
        res = probe_openapi("127.0.0.1", srv.port, 0.3)
    assert res.verdict not in (VERIFIED, UNREACHABLE)


def test_a_connect_timeout_is_unknown_not_absent():
    from tether.adapter import connect_failed
    from tether.errors import Timeout, Unreachable

    assert connect_failed(Timeout("slow")).verdict == UNKNOWN_VERDICT
    refused = connect_failed(Unreachable("nothing accepts connections"))
    assert refused.verdict == UNREACHABLE and "nothing accepts" in refused.detail
