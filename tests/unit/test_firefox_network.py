"""The BiDi network layer without a browser: a fake WebSocket plays Firefox (answers commands,
sends events), so routes, waits, idle and HAR are checked message by message; property tests
show that every parser of Firefox's messages returns or raises a tether error, nothing else."""

from __future__ import annotations

import json
import queue
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.errors import Closed, ProtocolError, TetherError, Timeout, Unreachable, UsageError
from tether_firefox import har as harmod
from tether_firefox.network import (
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    Network,
    Request,
    decode_bytes,
    glob_regex,
    make_route,
    parse_event,
    parse_headers,
    url_matcher,
)
from tether_firefox.trace import Step, Tracer, embed_json, page

from .test_parser_properties import EXAMPLES

bounded = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


class FakeWs:
    """Firefox's end of the session's BiDi WebSocket: answers each command (``replies`` by
    method, else an empty success) and sends what the test pushes."""

    url = "ws://127.0.0.1:1/session/fake"

    def __init__(self, replies: dict | None = None) -> None:
        self.inbox: queue.Queue = queue.Queue()
        self.sent: list[dict] = []
        self.replies = replies or {}
        self.closed = False

    def send_json(self, obj: dict, timeout: float = 5.0) -> None:
        if self.closed:
            raise Closed("closed")
        self.sent.append(obj)
        reply = self.replies.get(obj["method"], {})
        if isinstance(reply, dict) and reply.get("type") == "error":
            self.inbox.put({**reply, "id": obj["id"]})
        else:
            self.inbox.put({"type": "success", "id": obj["id"], "result": reply})

    def recv_json(self, deadline) -> object:
        while True:
            if self.closed:
                raise Closed("closed")
            try:
                msg = self.inbox.get(timeout=0.05)
            except queue.Empty:
                if deadline.expired:
                    raise Timeout("nothing") from None
                continue
            if isinstance(msg, Exception):
                raise msg
            return msg

    def abort(self) -> None:
        self.closed = True

    def push(self, msg: object) -> None:
        self.inbox.put(msg)

    def commands(self, method: str) -> list[dict]:
        return [m["params"] for m in self.sent if m["method"] == method]


def event(method: str, req_id: str, url: str, **extra) -> dict:
    params = {
        "context": "ctx",
        "isBlocked": False,
        "redirectCount": 0,
        "timestamp": 1_700_000_000_500,
        "request": {
            "request": req_id,
            "url": url,
            "method": "GET",
            "headers": [{"name": "Accept", "value": {"type": "string", "value": "*/*"}}],
            "headersSize": 100,
            "bodySize": 0,
            "timings": {
                "requestTime": 1_700_000_000_000,
                "requestStart": 1_700_000_000_010,
                "responseStart": 1_700_000_000_030,
                "responseEnd": 1_700_000_000_040,
            },
        },
        **extra,
    }
    return {"type": "event", "method": method, "params": params}


def response(status: int = 200, mime: str = "application/json") -> dict:
    return {
        "url": "x",
        "status": status,
        "statusText": "OK",
        "headers": [{"name": "Content-Type", "value": {"type": "string", "value": mime}}],
        "mimeType": mime,
        "protocol": "http/1.1",
        "bodySize": 7,
        "headersSize": 50,
        "content": {"size": 0},
    }


def until(condition, timeout: float = 2.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("the condition never held")


@pytest.fixture
def fake():
    ws = FakeWs(
        {"network.addIntercept": {"intercept": "I1"}, "network.addDataCollector": {"collector": "C1"}}
    )
    net = Network(ws, timeout=2)
    yield ws, net
    net.close()


# ----------------------------------------------------------------------------- globs
@pytest.mark.parametrize(
    ("glob", "url", "hit"),
    [
        ("**/api/*", "http://127.0.0.1:8000/api/items", True),
        ("**/api/*", "http://127.0.0.1:8000/api/items?page=2", True),
        ("**/api/*", "http://127.0.0.1:8000/api/items/3", False),
        ("**/*.{png,jpg}", "http://h/img/a.jpg", True),
        ("**/*.{png,jpg}", "http://h/img/a.gif", False),
        ("http://h/a.b", "http://h/aXb", False),  # a dot is a dot
    ],
)
def test_url_globs(glob, url, hit):
    assert url_matcher(glob)(url) is hit


@pytest.mark.parametrize("bad", ["", None, "**/{a,b", 3])
def test_a_bad_glob_is_refused_as_usage(bad):
    with pytest.raises(UsageError):
        glob_regex(bad)


@bounded
@given(st.text(max_size=40), st.text(max_size=60))
def test_any_glob_compiles_or_is_refused_and_double_star_matches_anything(glob, url):
    try:
        regex = glob_regex(glob)
    except UsageError:
        return
    regex.fullmatch(url)
    assert glob_regex("**").fullmatch(url)


# ----------------------------------------------------------------------------- parsers
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["request", "url", "method", "headers", "timings", "response", "status", "context", "isBlocked",
     "intercepts", "redirectCount", "errorText", "content", "name", "value", "type", "requestTime"]
)  # fmt: skip


def _mutated(base: dict, draw_keys, draw_values) -> dict:
    out = json.loads(json.dumps(base))
    params = out["params"]
    for key, value in zip(draw_keys, draw_values, strict=False):
        target = params if key in params or not isinstance(params.get("request"), dict) else params["request"]
        target[key] = value
    return out


@bounded
@given(JSON)
def test_any_message_is_a_network_event_none_or_a_protocol_error(msg):
    try:
        parse_event(msg)
    except ProtocolError:
        pass


@bounded
@given(
    st.sampled_from(["network.beforeRequestSent", "network.responseCompleted", "network.fetchError"]),
    st.lists(KEYS, max_size=4),
    st.lists(JSON, max_size=4),
)
def test_a_mangled_network_event_parses_or_is_a_protocol_error(method, keys, values):
    msg = event(method, "r1", "http://h/", response=response(), errorText="boom")
    try:
        ev = parse_event(_mutated(msg, keys, values))
    except ProtocolError:
        return
    assert ev is not None and isinstance(ev.request.url, str) and len(ev.request.headers) <= MAX_HEADERS
    ev.request.response = ev.response
    json.dumps(harmod.entry(ev.request, b"body"))  # and whatever parsed makes a HAR entry


def test_what_the_fuzzer_found_makes_a_har_entry():
    # a URL urllib cannot split, and numbers json.loads reads but no clock holds
    msg = json.loads(
        json.dumps(event("network.responseCompleted", "a", "http://[bad/x?y=1", response=response()))
        .replace("1700000000500", "Infinity")
        .replace("1700000000000", "1e300")
    )
    ev = parse_event(msg)
    ev.request.response = ev.response
    out = harmod.entry(ev.request, None)
    assert out["request"]["queryString"] == [] and out["startedDateTime"].endswith("Z")


@bounded
@given(JSON)
def test_headers_and_bytes_values_parse_or_are_protocol_errors(value):
    for parse in (parse_headers, decode_bytes):
        try:
            parse(value)
        except ProtocolError:
            pass


def test_headers_are_capped_in_number_and_length():
    many = [
        {"name": f"h{i}", "value": {"type": "string", "value": "v" * (MAX_HEADER_VALUE * 3)}}
        for i in range(999)
    ]
    got = parse_headers(many)
    assert len(got) == MAX_HEADERS and all(len(v) == MAX_HEADER_VALUE for _, v in got)
    assert parse_headers([{"name": "X", "value": {"type": "base64", "value": "aGk="}}]) == [("X", "hi")]


@pytest.fixture(scope="module")
def one_network():
    net = Network(FakeWs(), timeout=2)
    yield net
    net.close()


@bounded
@given(messages=st.lists(JSON, max_size=8))
def test_the_reader_survives_any_message(one_network, messages):
    for msg in messages:
        one_network._dispatch(msg)
    one_network._dispatch(event("network.beforeRequestSent", "ok", "http://h/after"))
    assert one_network.snapshot()[-1].url == "http://h/after"


# ----------------------------------------------------------------------------- routes
def test_a_route_fulfils_matching_requests_and_the_rest_continue(fake):
    ws, net = fake
    net.add_route(make_route("**/api/*", status=201, json_body={"ok": True}, headers={"X-Mock": "1"}))
    net.add_route(make_route("**/*.png", block=True))
    assert ws.commands("network.addIntercept") == [{"phases": ["beforeRequestSent"]}]  # one, for all
    # routes alone need no more than the event that carries the blocked request
    assert ws.commands("session.subscribe") == [{"events": ["network.beforeRequestSent"]}]
    blocked = {"isBlocked": True, "intercepts": ["I1"]}
    ws.push(event("network.beforeRequestSent", "a", "http://h/api/x", **blocked))
    ws.push(event("network.beforeRequestSent", "b", "http://h/logo.png", **blocked))
    ws.push(event("network.beforeRequestSent", "c", "http://h/page", **blocked))
    ws.push(event("network.beforeRequestSent", "d", "http://h/api/y"))  # not blocked: left alone
    until(lambda: len(net.snapshot()) == 4)
    provided = until(lambda: ws.commands("network.provideResponse"))
    assert provided == [
        {
            "request": "a",
            "statusCode": 201,
            "reasonPhrase": "Created",
            "headers": [
                {"name": "X-Mock", "value": {"type": "string", "value": "1"}},
                {"name": "Content-Type", "value": {"type": "string", "value": "application/json"}},
            ],
            "body": {"type": "string", "value": '{"ok": true}'},
        }
    ]
    assert until(lambda: ws.commands("network.failRequest")) == [{"request": "b"}]
    assert until(lambda: ws.commands("network.continueRequest")) == [{"request": "c"}]
    assert [r.routed for r in net.snapshot()] == ["fulfilled", "blocked", None, None]
    net.listen(lambda kind, req: None)  # a wait, a HAR: the rest of the events, once
    net.listen(lambda kind, req: None)
    assert ws.commands("session.subscribe")[1:] == [
        {"events": ["network.responseStarted", "network.responseCompleted", "network.fetchError"]}
    ]
    assert net.remove_routes("**/api/*") == 1 and ws.commands("network.removeIntercept") == []
    assert net.remove_routes() == 1 and ws.commands("network.removeIntercept") == [{"intercept": "I1"}]


def test_bytes_bodies_go_as_base64_and_files_are_typed_by_name(tmp_path):
    _, params = make_route("**", body=b"\xff\x00").command("r")
    assert params["body"] == {"type": "base64", "value": "/wA="}
    pic = tmp_path / "a.png"
    pic.write_bytes(b"\x89PNG")
    route = make_route("**", file=pic)
    assert ("Content-Type", "image/png") in route.headers and route.body == b"\x89PNG"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 99},
        {"status": True},
        {"body": "a", "json_body": 1},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X": "a\r\nSet-Cookie: evil"}},
        {"json_body": {1, 2}},
        {"file": "/no/such/file"},
    ],
)
def test_a_bad_route_is_refused_before_anything_is_sent(fake, kwargs):
    ws, net = fake
    before = len(ws.sent)
    with pytest.raises(UsageError):
        net.add_route(make_route("**/api/*", **kwargs))
    assert len(ws.sent) == before


# ----------------------------------------------------------------------------- waits
def test_expect_response_returns_what_came_while_the_block_ran(fake):
    ws, net = fake
    with net.expect("response", "**/api/*", status=200, timeout=2) as seen:
        ws.push(event("network.beforeRequestSent", "a", "http://h/api/a"))
        ws.push(event("network.responseCompleted", "a", "http://h/api/a", response=response(500)))
        ws.push(event("network.beforeRequestSent", "b", "http://h/api/b"))
        ws.push(event("network.responseCompleted", "b", "http://h/api/b", response=response(200)))
    assert seen.value.url == "http://h/api/b" and seen.value.response.status == 200


def test_expect_times_out_with_a_tether_timeout(fake):
    _, net = fake
    started = time.monotonic()
    with pytest.raises(Timeout, match="never"), net.expect("request", "**/never", timeout=0.3):
        pass
    assert time.monotonic() - started < 1.5


def test_a_closed_connection_ends_the_wait_as_unreachable(fake):
    ws, net = fake
    with pytest.raises(Unreachable), net.expect("request", "**/x", timeout=5):
        ws.push(Closed("gone"))
        until(lambda: net.closed)


def test_network_idle_waits_for_requests_in_flight(fake):
    ws, net = fake
    ws.push(event("network.beforeRequestSent", "a", "http://h/slow"))
    until(lambda: net.snapshot())
    with pytest.raises(Timeout, match="http://h/slow"):
        net.wait_for_idle(idle=0.05, timeout=0.3)
    ws.push(event("network.fetchError", "a", "http://h/slow", errorText="NS_ERROR_ABORT"))
    net.wait_for_idle(idle=0.05, timeout=2)
    assert net.snapshot()[0].failure == "NS_ERROR_ABORT"


def test_a_command_firefox_never_answers_times_out():
    ws = FakeWs()
    net = Network(ws, timeout=2)
    try:
        ws.send_json = lambda obj, timeout=5.0: ws.sent.append(obj)  # swallowed: no reply
        with pytest.raises(Timeout, match=r"network\.addIntercept"):
            net.command("network.addIntercept", {}, timeout=0.2)
    finally:
        net.close()


# ----------------------------------------------------------------------------- HAR
def test_a_har_entry_from_events(fake):
    ws, net = fake
    recorder = harmod.HarRecorder(net, bodies=True)
    ws.replies["network.getData"] = {"bytes": {"type": "string", "value": '{"a":1}'}}
    ws.push(event("network.beforeRequestSent", "a", "http://h/api?x=1&y="))
    ws.push(event("network.responseCompleted", "a", "http://h/api?x=1&y=", response=response(200)))
    ws.push(event("network.beforeRequestSent", "b", "http://h/gone"))
    ws.push(event("network.fetchError", "b", "http://h/gone", errorText="NS_ERROR_CONNECTION_REFUSED"))
    until(lambda: len(recorder.requests) == 2 and all(r.finished for r in recorder.requests))
    entries = recorder.document(settle=0.5)["log"]["entries"]
    ok, failed = entries
    assert ok["request"]["queryString"] == [{"name": "x", "value": "1"}, {"name": "y", "value": ""}]
    assert ok["response"]["status"] == 200 and ok["response"]["content"]["text"] == '{"a":1}'
    assert ok["response"]["content"]["size"] == 7 and ok["response"]["httpVersion"] == "HTTP/1.1"
    assert ok["timings"]["wait"] == 20 and ok["timings"]["receive"] == 10 and ok["time"] == 30
    assert failed["response"]["status"] == 0 and failed["_error"] == "NS_ERROR_CONNECTION_REFUSED"
    assert ws.commands("network.getData") == [{"dataType": "response", "request": "a"}]  # text only
    assert ws.commands("network.addDataCollector")[0]["dataTypes"] == ["response"]


def test_binary_bodies_stay_out_of_a_har():
    req = Request("a", "http://h/a.png", started=1.0, ended=2.0)
    from tether_firefox.network import parse_response

    req.response = parse_response(response(200, "image/png"))
    content = harmod.entry(req, b"\x89PNG")["response"]["content"]
    assert "text" not in content and content["mimeType"] == "image/png"


# ----------------------------------------------------------------------------- trace page
def test_embedded_json_cannot_close_its_script_element():
    text = embed_json({"t": "</script><script>alert(1)</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"t": "</script><script>alert(1)</script><!-- & \u2028"}


def test_the_trace_page_carries_the_steps_as_data_only():
    class Stub:
        pass

    tracer = Tracer(Stub(), screenshots=False)
    tracer.steps.append(
        Step(0, "click", "<b>x</b>", ["</script>"], 1.0, outcome="error", error="<i>boom</i>")
    )
    html = page(tracer.data(title="t<script>", outcome="failed"))
    assert (
        "<b>x</b>" not in html and "</script><" not in html.split('id="trace-data">')[1].split("</script>")[0]
    )
    assert html.count("<script") == 2  # the data and the page's own code, nothing else


def test_tracing_records_the_outermost_call_only_and_reraises():
    calls = []

    class Page:
        def find(self, selector):
            calls.append(("find", selector))
            return None

        def click(self, selector):
            self.find(selector)  # an inner call: not a step of its own
            if selector == "#bad":
                raise TetherError("no such element")

        def request(self, name, params=None, timeout=None):
            return "http://h/"

        def screenshot(self):
            return b"\x89PNG"

    ff = Page()
    tracer = Tracer(ff).attach()
    ff.click("#ok")
    with pytest.raises(TetherError):
        ff.click("#bad")
    tracer.detach()
    ff.click("#ok")  # detached: not recorded
    assert [(s.name, s.selector, s.outcome) for s in tracer.steps] == [
        ("click", "#ok", "ok"),
        ("click", "#bad", "error"),
    ]
    assert all(s.screenshot == b"\x89PNG" and s.url == "http://h/" for s in tracer.steps)
    failing = tracer.fail("AssertionError")
    assert failing is tracer.steps[-1] and failing.note == "AssertionError" and len(tracer.steps) == 2
    assert "click" not in vars(ff)


def test_the_reader_thread_is_gone_after_close(fake):
    _, net = fake
    net.close()
    until(lambda: not net._thread.is_alive())
    with pytest.raises(Unreachable):  # a command after close: refused at once, not a hang
        net.command("session.status")
