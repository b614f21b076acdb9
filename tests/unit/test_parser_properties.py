"""Property-based tests: every parser of outside data returns, or raises a tether error — never
anything else (issue 9). Hypothesis draws the inputs; CI runs a bounded number per parser
(``TETHER_HYPOTHESIS_EXAMPLES``, 150 by default); ``benchmarks/fuzz.py`` runs 100,000 each.
"""

from __future__ import annotations

import json
import os
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.deadline import Deadline
from tether.errors import ProtocolError, TetherError, UsageError

EXAMPLES = int(os.environ.get("TETHER_HYPOTHESIS_EXAMPLES", "150"))
bounded = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

TROUBLE = st.sampled_from(
    [
        "\n",
        "\r",
        "\x00",
        "\u2028",
        "\x85",
        "\ud800",
        "[" * 1200,
        "9" * 4400,
        "~nosuchuser",
        "a" * 300,
        ",",
        ":",
    ]
)
text = st.one_of(
    st.text(max_size=80), st.lists(st.one_of(st.text(max_size=8), TROUBLE), max_size=6).map("".join)
)


def _only_tether_errors(fn, *args):
    try:
        return fn(*args)
    except TetherError:
        return None


# -- IGV ------------------------------------------------------------------------------------------------
@bounded
@given(text)
def test_a_locus_parses_or_is_refused_as_bad_input(value):
    from tether_igv.locus import parse_locus

    try:
        locus = parse_locus(value)
    except UsageError:
        return
    if locus.is_range:
        assert 1 <= locus.start <= locus.end


@bounded
@given(st.integers(min_value=1, max_value=10**14), st.integers(min_value=0, max_value=10**6))
def test_a_well_formed_range_keeps_its_numbers(start, length):
    from tether_igv.locus import parse_locus

    locus = parse_locus(f"chr1:{start:,}-{start + length}")
    assert (locus.chrom, locus.start, locus.end) == ("chr1", start, start + length)


@bounded
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20), max_size=8))
def test_batch_lines_split_only_at_igvs_line_ends(lines):
    from tether_igv.script import split_lines

    for end in ("\n", "\r\n", "\r"):
        assert split_lines(end.join(lines) + (end if lines else "")) == lines


@bounded
@given(text)
def test_a_batch_script_is_prepared_or_refused_as_bad_input(tmp_path_factory, script):
    from tether_igv.script import prepare, split_lines

    _only_tether_errors(prepare, split_lines(script), tmp_path_factory.getbasetemp())


def _through_socket(data: bytes, read):
    a, b = socket.socketpair()
    try:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        return read(b)
    finally:
        a.close()
        b.close()


@bounded
@given(st.binary(max_size=300), st.booleans())
def test_igv_reply_lines_are_read_and_classified_or_refused(data, query):
    from tether.transport.line import LineConnection
    from tether_igv.protocol import _classify

    def read(sock):
        conn = LineConnection(sock, max_line=64)
        lines = []
        while (line := conn.readline(Deadline(2))) is not None:
            lines.append(line)
        return lines

    lines = _only_tether_errors(_through_socket, data, read)
    if lines is not None:
        _only_tether_errors(lambda: _classify("goto chr1", lines, 0.0, query=query))


# -- Marionette frames ------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@bounded
@given(json_values)
def test_a_frame_written_is_read_back_unchanged(value):
    from tether.transport.framed import FramedConnection

    a, b = socket.socketpair()
    try:
        FramedConnection(a).write_frame(value, Deadline(2))
        assert FramedConnection(b).read_frame(Deadline(2)) == value
    finally:
        a.close()
        b.close()


@bounded
@given(st.binary(max_size=300))
def test_any_bytes_read_as_frames_give_values_or_tether_errors(data):
    from tether.transport.framed import FramedConnection

    def read(sock):
        conn = FramedConnection(sock, max_frame=4096)
        while conn.read_frame(Deadline(2)) is not None:
            pass

    _only_tether_errors(_through_socket, data, read)


# -- the queue server ---------------------------------------------------------------------------------------
@bounded
@given(st.lists(text, min_size=1, max_size=4))
def test_plan_arguments_parse_or_are_refused_as_bad_input(tokens):
    from tether_qserver.plan import parse_items

    items = _only_tether_errors(parse_items, tokens)
    if items is not None:
        json.dumps(items)  # whatever was accepted can be sent


@bounded
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[]", "{}", "1", "'a'"]))
def test_plan_values_nested_arbitrarily_deep_are_refused_not_crashed(depth, core):
    from tether_qserver.plan import parse_items

    _only_tether_errors(parse_items, ["count", "[" * depth + core + "]" * depth])
    _only_tether_errors(parse_items, ["count", "x=" + "{'a': " * depth + core + "}" * depth])


@bounded
@given(text)
def test_a_server_url_parses_or_is_refused_as_bad_input(url):
    from tether_qserver.probe import parse_url

    parsed = _only_tether_errors(parse_url, url)
    if parsed is not None:
        scheme, host, port, _ = parsed
        assert scheme in ("http", "https") and host and 0 < port < 65536


@bounded
@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6})?", fullmatch=True),
    st.integers(1, 65535),
)
def test_a_well_formed_url_keeps_its_parts(scheme, host, port):
    from tether_qserver.probe import parse_url

    assert parse_url(f"{scheme}://{host}:{port}/p") == (scheme, host, port, "/p")


@bounded
@given(json_values, st.integers(min_value=0, max_value=100))
def test_a_reply_of_any_shape_is_accepted_or_a_protocol_error(value, pick):
    from tether_qserver.client import REPLY_SHAPES, check_reply

    path = sorted(REPLY_SHAPES)[pick % len(REPLY_SHAPES)]
    try:
        reply = check_reply(path, value)
    except ProtocolError:
        return
    assert isinstance(reply, dict)


@bounded
@given(text)
def test_a_host_name_is_accepted_or_refused_as_bad_input(host):
    from tether.adapter import check_host

    _only_tether_errors(check_host, host)
