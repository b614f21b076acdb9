"""App and user text is printed as text, never as rich markup (a ``[/]`` must not crash the printer)."""

from __future__ import annotations

import pytest

from tether.cli import render
from tether.errors import CommandError, UsageError

NASTY = [
    "bad locus chr1:[/]100",
    "[bold]not bold[/bold]",
    "detail [type=int_parsing, input_value='x']",
    "selector div[data-x='1'] > [/]",
    "emoji :smile: stays",
    "\\[escaped]",
]


@pytest.mark.parametrize("text", NASTY)
def test_errors_print_app_text_verbatim(capsys, text):
    render.error(CommandError(text, app_message=f"app: {text}", hint=f"hint {text}"), as_json=False)
    err = capsys.readouterr().err
    assert f"error: {text}" in err
    assert f"the app said: app: {text}" in err
    assert f"hint: hint {text}" in err


@pytest.mark.parametrize("text", NASTY)
def test_tables_and_notes_print_cells_verbatim(capsys, text):
    render.emit([{"a": text, "b": 1}], as_json=False, columns=["a", "b"], title=text)
    render.emit({"key": text}, as_json=False)
    render.table([], ["a"], title=text, empty=text)
    render.note(text)
    out, err = capsys.readouterr()
    assert out.count(text) == 5, out  # title, cell, value, and the empty table's title and text
    assert text in err


def test_progress_descriptions_are_text(capsys):
    with render.progress("loading [/] x", enabled=True) as bar:
        bar.advance()
    assert "Traceback" not in capsys.readouterr().err


def test_json_errors_carry_the_message_unchanged(capsys):
    render.error(UsageError("x [/] y"), as_json=True)
    assert '"message": "x [/] y"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "secret",
    ["plain-key-123", "with\nnewline-key", "cr\rkey-abcd", 'quote"and\\slash', "ünïcode-kéy", "a b&c=d"],
)
def test_a_secret_is_masked_in_every_form_output_can_give_it(secret):
    import json
    import urllib.parse

    from tether.transport.http import redact_text

    shown = [
        f"key {secret} refused",
        f"key {secret!r} refused",
        json.dumps({"key": secret}),
        json.dumps({"key": secret}, ensure_ascii=False),
        urllib.parse.urlencode({"key": secret}),
        "?key=" + urllib.parse.quote(secret, safe=""),
        secret.encode("unicode_escape").decode(),
    ]
    for text in shown:
        masked = redact_text(text, [secret])
        assert "***" in masked, text
        for part in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], urllib.parse.quote_plus(secret)):
            assert part not in masked, (text, masked)
