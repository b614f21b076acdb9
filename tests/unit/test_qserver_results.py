"""A plan's result in a notebook: RunResult and RunResults render as HTML tables of their fields,
with the server's text (plan names, messages, tracebacks) escaped — it is data, never markup."""

from __future__ import annotations

from html.parser import HTMLParser

from tether_qserver.client import RunResult, RunResults

TAGS = {"table", "thead", "tbody", "tr", "th", "td", "pre"}


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag in ("td", "th", "pre"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th", "pre"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def parse(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


def failed() -> RunResult:
    return RunResult(
        item_uid="u-2",
        name="mv",
        exit_status="failed",
        msg="<script>alert('x')</script> & more",
        traceback="Traceback (most recent call last):\n"
        '  File "<string>", line 1, in <module>\nTypeError: <b>',
        time_start=10.0,
        time_stop=12.5,
    )


def test_a_run_result_is_a_table_of_its_fields_with_the_servers_text_escaped():
    html = failed()._repr_html_()
    parsed = parse(html)
    assert parsed.tags <= TAGS  # the message's <script> and the traceback's <b> are text, not tags
    cells = parsed.cells
    fields = dict(zip(cells[2::2], cells[3::2], strict=False))
    assert cells[:2] == ["field", "value"]
    assert fields["ok"] == "False" and fields["exit_status"] == "failed" and fields["name"] == "mv"
    assert fields["msg"] == "<script>alert('x')</script> & more" and fields["duration"] == "2.50 s"
    assert cells[-1].endswith("TypeError: <b>") and "in <module>" in cells[-1]  # the traceback's tail
    assert "&lt;script&gt;" in html


def test_the_results_of_a_queue_run_are_a_table_one_row_per_plan():
    ok = RunResult(item_uid="u-1", name="count", exit_status="completed", scan_ids=[7, 8])
    results = RunResults([ok, failed()])
    assert results == [ok, failed()] and isinstance(results, list)  # still the list it was
    parsed = parse(results._repr_html_())
    assert parsed.tags <= TAGS
    assert parsed.cells[:6] == ["plan", "item uid", "exit status", "scan ids", "duration", "message"]
    assert parsed.cells[6:12] == ["count", "u-1", "completed", "7, 8", "", ""]
    assert parsed.cells[12:] == ["mv", "u-2", "failed", "", "2.50 s", "<script>alert('x')</script> & more"]
