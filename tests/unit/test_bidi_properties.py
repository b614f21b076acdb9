"""Property tests of Firefox's WebDriver BiDi message parsers (issue 21, item 6): whatever Firefox —
or a stranger on its port — sends, they return or raise a tether error, never anything else.
Fuzzing found ``session.new`` answered with ``{}`` (a KeyError) and wrongly typed
``log.entryAdded`` fields (an AttributeError). Hypothesis draws the messages; CI runs a bounded
number (``TETHER_HYPOTHESIS_EXAMPLES``, 150 by default)."""

from __future__ import annotations

import os
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.errors import ProtocolError, TetherError, Timeout

EXAMPLES = int(os.environ.get("TETHER_HYPOTHESIS_EXAMPLES", "150"))
bounded = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["timestamp", "level", "type", "method", "text", "source", "stackTrace", "args", "context"]
# log.entryAdded params: the real keys, each with a value of any type (and the real shapes nested)
entry_params = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.fixed_dictionaries(
        {},
        optional={
            "stackTrace": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"callFrames": st.one_of(json_values, st.lists(json_values, max_size=3))}
                ),
            ),
            "source": st.one_of(json_values, st.fixed_dictionaries({"context": json_values})),
            "text": json_values,
            "level": json_values,
        },
    ),
)


class ScriptedWs:
    """A WebSocket that answers with the messages it was given, then times out."""

    url = "ws://127.0.0.1:9/session"

    def __init__(self, messages: list[Any]) -> None:
        self.messages = deque(messages)
        self.sent: list[Any] = []
        self.closed = False

    def send_json(self, obj: Any, timeout: float = 5.0) -> None:
        self.sent.append(obj)

    def recv_json(self, deadline: Any) -> Any:
        if not self.messages:
            raise Timeout("nothing more")
        return self.messages.popleft()

    def close(self) -> None:
        self.closed = True


@bounded
@given(entry_params)
def test_a_log_entry_of_any_shape_flattens_to_typed_fields(params):
    from tether_firefox.bidi import log_entry

    entry = log_entry(params)
    assert set(entry) == {"timestamp", "level", "type", "method", "text", "url", "line", "context"}
    for key in ("level", "type", "method", "text", "url", "context"):
        assert entry[key] is None or isinstance(entry[key], str)
    assert entry["line"] is None or (isinstance(entry["line"], int) and not isinstance(entry["line"], bool))


def test_a_well_formed_log_entry_keeps_its_fields():
    from tether_firefox.bidi import log_entry

    entry = log_entry({
        "level": "error", "type": "javascript", "text": "Error: x", "timestamp": 5,
        "source": {"context": "c1"},
        "stackTrace": {"callFrames": [{"url": "http://a/", "lineNumber": 3}]},
    })  # fmt: skip
    assert entry == {"timestamp": 5, "level": "error", "type": "javascript", "method": None,
                     "text": "Error: x", "url": "http://a/", "line": 3, "context": "c1"}  # fmt: skip


@bounded
@given(json_values)
def test_a_session_new_result_of_any_shape_gives_its_id_or_a_protocol_error(result):
    from tether_firefox.bidi import session_id_of

    try:
        sid = session_id_of(result)
    except ProtocolError:
        return
    assert isinstance(sid, str) and sid == result["sessionId"]


@pytest.mark.parametrize("result", [{}, None, [], {"sessionId": 7}, {"sessionId": ""}])
def test_opening_a_session_answered_without_an_id_is_a_protocol_error(monkeypatch, result):
    from tether_firefox import bidi

    ws = ScriptedWs([{"id": 1, "type": "success", "result": result}])
    monkeypatch.setattr(bidi.WsConnection, "open", classmethod(lambda cls, *a, **k: ws))
    with pytest.raises(ProtocolError, match="without a sessionId"):
        bidi.BiDi.open(9)
    assert ws.closed  # and the connection is not left open


@bounded
@given(st.lists(json_values, max_size=6))
def test_a_command_answered_by_any_messages_returns_or_raises_a_tether_error(messages):
    from tether_firefox.bidi import BiDi

    b = BiDi(ScriptedWs(messages), timeout=0.5)
    try:
        b.command("browser.getUserContexts")
    except TetherError:
        pass


@bounded
@given(st.lists(st.one_of(json_values, st.builds(dict, type=st.just("event"),
                                                   method=st.just("log.entryAdded"), params=entry_params)),
                max_size=6))  # fmt: skip
def test_events_of_any_shape_read_as_log_entries_or_tether_errors(messages):
    from tether_firefox.bidi import BiDi

    b = BiDi(ScriptedWs(messages), timeout=0.5)
    try:
        entries = list(b.log_entries(timeout=0.01))
    except TetherError:
        return
    assert all(isinstance(e, dict) for e in entries)


@bounded
@given(json_values)
def test_context_replies_of_any_shape_give_ids_or_protocol_errors(result):
    from tether_firefox import contexts

    b = ScriptedWs([{"id": 1, "type": "success", "result": result}])
    from tether_firefox.bidi import BiDi

    for call in (
        lambda bidi: contexts.create_user_context(bidi),
        lambda bidi: contexts.create_tab(bidi, "uc"),
        lambda bidi: contexts.cookies(bidi, "uc", "http://127.0.0.1/a"),
    ):
        b.messages = deque([{"id": 1, "type": "success", "result": result}])
        try:
            call(BiDi(b, timeout=0.5))
        except TetherError:
            pass


@bounded
@given(json_values)
def test_a_cookie_of_any_shape_reads_as_marionettes_shape_or_a_protocol_error(cookie):
    from tether_firefox.contexts import from_bidi

    try:
        out = from_bidi(cookie)
    except ProtocolError:
        return
    assert isinstance(out["name"], str) and isinstance(out["value"], str)


def test_a_command_on_a_closed_connection_is_a_typed_error():
    from tether.errors import Closed
    from tether_firefox.bidi import BiDi

    ws = ScriptedWs([])
    ws.closed = True
    with pytest.raises(Closed, match="removeUserContext was not sent"):
        BiDi(ws).command("browser.removeUserContext", {"userContext": "u"})
    assert ws.sent == []
