"""Auto-waiting actions, ``expect`` and ``Timeouts`` without a browser: a client whose Marionette
calls are answered by a script (what the page would report), so every message format, retry and
refusal is checked exactly. The real pages are in tests/real/test_racy_pages.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tether.errors import Timeout, UsageError
from tether_firefox.client import Element, Firefox, resolve_url
from tether_firefox.marionette import ELEMENT_KEY, ElementClickIntercepted, StaleElementReference
from tether_firefox.timeouts import Timeouts
from tether_firefox.waiting import (
    ACTIONABLE,
    STATE,
    ActionTimeout,
    ExpectationFailed,
    action_timeout,
    expectations,
    locator,
    normalize,
)

EL = {ELEMENT_KEY: "e1"}


class Scripted(Firefox):
    """A Firefox whose commands ``answer(name, params)`` answers; every command is recorded."""

    def __init__(self, answer: Callable[[str, dict], Any], **options: Any) -> None:
        super().__init__("127.0.0.1", 1, **options)
        self.answer = answer
        self.sent: list[tuple[str, dict]] = []

    def request(self, name: str, params: dict | None = None, *, timeout: float | None = None) -> Any:
        self.sent.append((name, params or {}))
        return self.answer(name, params or {})

    def names(self) -> list[str]:
        return [n for n, _ in self.sent]


def checks_then(results: list[dict], then: Any = None) -> Callable[[str, dict], Any]:
    """Answer the actionability script with ``results`` in turn (the last one repeated)."""
    queue = list(results)

    def answer(name: str, params: dict) -> Any:
        if name == "WebDriver:ExecuteAsyncScript":
            assert params["script"] == ACTIONABLE
            return queue.pop(0) if len(queue) > 1 else queue[0]
        return then

    return answer


COVERED = {"ok": False, "check": "hit", "detail": "is covered by div#veil at 40,20", "blocker": "div#veil"}
READY = {"ok": True, "element": EL}


# ----------------------------------------------------------------------------- actions
def test_click_acts_once_after_the_checks_pass():
    ff = Scripted(
        checks_then([{"ok": False, "check": "attached", "detail": "matches no element"}, COVERED, READY])
    )
    ff.click("#under")
    assert ff.names() == ["WebDriver:ExecuteAsyncScript"] * 3 + ["WebDriver:ElementClick"]
    assert ff.sent[-1][1] == {"id": "e1"}
    loc, opts = ff.sent[0][1]["args"]
    assert loc == {"css": ["#under"]} and opts == {
        "checks": ["visible", "enabled", "scroll", "stable", "hit"],
        "force": False,
    }


def test_still_covered_at_the_deadline_names_the_blocker_and_clicks_nothing():
    ff = Scripted(checks_then([COVERED]))
    started = time.monotonic()
    with pytest.raises(ActionTimeout) as info:
        ff.click("#under", timeout=0.3)
    assert 0.25 < time.monotonic() - started < 1.5
    err = info.value
    assert isinstance(err, Timeout) and isinstance(err, TimeoutError) and err.exit_code == 4
    assert err.check == "receiving events" and err.blocker == "div#veil"
    assert re.match(
        r"could not click #under within 0\.\d s: #under is covered by div#veil at 40,20", str(err)
    )
    assert "--force" in str(err)
    assert "WebDriver:ElementClick" not in ff.names()
    assert err.to_dict()["check"] == "receiving events"


def test_force_sends_one_script_and_acts_without_waiting():
    ff = Scripted(checks_then([READY]))
    ff.click("#aria", force=True)
    assert ff.names() == ["WebDriver:ExecuteAsyncScript", "WebDriver:ElementClick"]
    assert ff.sent[0][1]["args"][1]["force"] is True


def test_force_on_a_missing_element_fails_at_once():
    from tether_firefox.marionette import NoSuchElement

    ff = Scripted(checks_then([{"ok": False, "check": "attached", "detail": "matches no element"}]))
    with pytest.raises(NoSuchElement, match="cannot click #x: #x matches no element"):
        ff.click("#x", force=True, timeout=5)
    assert ff.names() == ["WebDriver:ExecuteAsyncScript"]


def test_a_click_firefox_refuses_right_after_the_checks_is_tried_again():
    clicks = {"n": 0}

    def answer(name: str, params: dict) -> Any:
        if name == "WebDriver:ExecuteAsyncScript":
            return READY
        clicks["n"] += 1
        if clicks["n"] == 1:
            raise StaleElementReference("stale", code="stale element reference")
        if clicks["n"] == 2:
            raise ElementClickIntercepted("intercepted", code="element click intercepted")
        return None

    ff = Scripted(answer)
    ff.click("#save")
    assert clicks["n"] == 3


def test_type_checks_editable_and_clears_first():
    ff = Scripted(checks_then([READY]))
    ff.type("#name", "Ada", clear=True)
    assert ff.sent[0][1]["args"][1]["checks"] == ["visible", "enabled", "editable", "scroll", "stable"]
    assert ff.names()[1:] == ["WebDriver:ElementClear", "WebDriver:ElementSendKeys"]
    assert ff.sent[-1][1] == {"id": "e1", "text": "Ada"}


def test_an_element_reference_is_checked_as_it_is_and_a_stale_one_says_to_use_a_selector():
    def answer(name: str, params: dict) -> Any:
        raise StaleElementReference("gone", code="stale element reference")

    ff = Scripted(answer)
    el = Element(ff, "old")
    with pytest.raises(StaleElementReference) as info:
        el.click()
    assert "replaced or removed" in str(info.value) and "selector" in (info.value.hint or "")
    assert ff.sent[0][1]["args"][0] == {"els": [el]}  # sent as its reference


def test_the_message_for_each_check():
    cases = {
        (
            "visible",
            "is not visible (display: none)",
        ): "could not hover #m within 2 s: #m is not visible (display: none)",
        ("enabled", "is disabled"): "could not hover #m within 2 s: #m is disabled",
        ("stable", "is moving (its box went from 0,0 to 5,0 in one frame)"): "#m is moving",
    }
    for (check, detail), said in cases.items():
        err = action_timeout("hover", "#m", {"check": check, "detail": detail}, 2.0)
        assert said in str(err) and err.check == check
    assert action_timeout("click", "#m", None, 1.0).check == "attached"


def test_locators_and_bad_selectors():
    assert locator("my-app >>> button.ok", "css selector") == {"css": ["my-app", "button.ok"]}
    assert locator("//a", "xpath") == {"xpath": "//a"}
    assert locator("next", "link text") == {"by": "link text", "value": "next"}
    with pytest.raises(UsageError):
        locator("a >>> ", "css selector")
    with pytest.raises(UsageError):
        locator("x", "telepathy")
    with pytest.raises(UsageError):
        Scripted(checks_then([READY])).click("  ")


def test_an_invalid_css_selector_is_firefoxs_invalid_selector():
    from tether_firefox.marionette import InvalidSelector

    ff = Scripted(checks_then([{"ok": False, "check": "selector", "detail": "'##' is not a valid selector"}]))
    with pytest.raises(InvalidSelector):
        ff.click("##")


# ----------------------------------------------------------------------------- expect
def state_answer(states: list[dict]) -> Callable[[str, dict], Any]:
    queue = list(states)

    def answer(name: str, params: dict) -> Any:
        assert name == "WebDriver:ExecuteScript" and params["script"] == STATE
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


def test_expect_polls_until_met_and_returns_what_it_read():
    ff = Scripted(
        state_answer([{"count": 0}, {"count": 1, "text": "Loading"}, {"count": 1, "text": " Done\n now "}])
    )
    seen = ff.expect("#status", text="Done now")
    assert seen["text"] == " Done\n now " and len(ff.sent) == 3


def test_expect_not_met_names_the_expectation_and_the_last_value():
    ff = Scripted(state_answer([{"count": 1, "text": "Done"}]))
    with pytest.raises(ExpectationFailed) as info:
        ff.expect("#status", text="Never", timeout=0.2)
    err = info.value
    assert isinstance(err, AssertionError) and err.exit_code == 1
    assert re.fullmatch(
        r"expected #status to have text 'Never'; last seen 'Done' \(waited 0\.\d s\)", str(err)
    )
    assert err.to_dict()["last_seen"] == "Done"


@pytest.mark.parametrize(
    ("kwargs", "state", "said"),
    [
        ({"count": 3}, {"count": 2, "text": ""}, "expected li to match 3 elements; last seen 2"),
        ({"text": "x"}, {"count": 0}, "expected li to have text 'x'; last seen no element matching li"),
        (
            {"contains": re.compile(r"\d+ items")},
            {"count": 1, "text": "none"},
            r"to contain text /\d+ items/",
        ),
        ({"visible": True}, {"count": 1, "visible": False}, "to be visible; last seen hidden"),
        ({"visible": False}, {"count": 1, "visible": True}, "to be hidden; last seen visible"),
        ({"enabled": True}, {"count": 1, "enabled": False}, "to be enabled; last seen disabled"),
        ({"checked": True}, {"count": 1, "checked": False}, "to be checked; last seen unchecked"),
        ({"value": "Ada"}, {"count": 1, "value": ""}, "to have value 'Ada'; last seen ''"),
        (
            {"attr": ("href", "/x")},
            {"count": 1, "attrs": {"href": None}},
            "to have attribute href='/x'; last seen nothing",
        ),
        (
            {"attr": {"data-x": None}},
            {"count": 1, "attrs": {"data-x": "1"}},
            "to have no attribute data-x; last seen '1'",
        ),
    ],
)
def test_expect_messages(kwargs, state, said):
    ff = Scripted(state_answer([state]))
    with pytest.raises(ExpectationFailed) as info:
        ff.expect("li", timeout=0.05, **kwargs)
    assert said in str(info.value)


def test_hidden_is_met_by_no_element_and_count_zero_too():
    ff = Scripted(state_answer([{"count": 0}]))
    ff.expect("#gone", visible=False, count=0, timeout=0.05)


def test_expect_title_and_url():
    ff = Scripted(
        lambda name, params: {"WebDriver:GetTitle": "Home", "WebDriver:GetCurrentURL": "http://x/a"}[name]
    )
    ff.expect(title="Home")
    ff.expect(url=re.compile(r"/a$"))
    with pytest.raises(ExpectationFailed, match=r"expected the title to be 'Away'; last seen 'Home'"):
        ff.expect(title="Away", timeout=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"text": 3},
        {"count": -1},
        {"count": True},
        {"attr": ("a",)},
        {"attr": ("a", 5)},
    ],
)
def test_expect_refuses_bad_expectations_before_sending(kwargs):
    ff = Scripted(state_answer([{"count": 1}]))
    with pytest.raises(UsageError):
        ff.expect("#x", **kwargs)
    assert ff.sent == []


def test_expect_an_element_or_the_page_not_both():
    ff = Scripted(state_answer([{"count": 1}]))
    for kwargs in ({"title": "a", "url": "b"}, {}):
        with pytest.raises(UsageError):
            ff.expect(**kwargs)
    with pytest.raises(UsageError):
        ff.expect("#x", text="a", title="b")
    assert ff.sent == []


def test_normalize_and_expectations_compare_as_documented():
    assert normalize("  a \n\t b  ") == "a b"
    (exp,) = expectations(text="a b")
    assert exp.met({"count": 1, "text": "a\n b"}) and not exp.met({"count": 1, "text": "a bc"})


# ----------------------------------------------------------------------------- the timeouts value
def test_the_old_keywords_set_the_timeouts_fields():
    ff = Firefox(
        timeout=10, page_load_timeout=60, script_timeout=5, implicit_wait=0, connect_timeout=2, busy_wait=0
    )
    assert ff.timing == Timeouts(command=10, page_load=60, script=5, implicit=0, connect=2, busy_wait=0)
    assert ff.timeout == 10 and ff.connect_timeout == 2 and ff.busy_wait == 0
    assert ff._caps_request["timeouts"] == {"pageLoad": 60000, "script": 5000, "implicit": 0}
    ff.timeout = 3
    assert ff.timing.command == 3


def test_one_timeouts_value_or_a_mapping_or_seconds():
    assert Firefox(timeouts=Timeouts(command=7, expect=1)).timing.expect == 1
    assert Firefox(timeouts={"page_load": 9}).timing.session() == {"pageLoad": 9000}
    assert Firefox(timeouts=12).timing.command == 12
    assert Firefox(timeouts={"command": 5}, timeout=6).timing.command == 6  # the keyword wins
    assert "timeouts" not in Firefox()._caps_request  # Firefox's own defaults unless asked


@pytest.mark.parametrize(
    "bad", [{"command": 0}, {"command": -1}, {"expect": "5"}, {"nope": 1}, {"busy_wait": -1}]
)
def test_bad_timeouts_are_refused(bad):
    with pytest.raises(UsageError):
        Firefox(timeouts=bad)


def test_the_budget_cuts_the_wait_and_leaves_time_to_report():
    ff = Scripted(checks_then([COVERED]), budget=1.0)
    started = time.monotonic()
    with pytest.raises(ActionTimeout):
        ff.click("#under", timeout=30)
    assert time.monotonic() - started < 1.0  # stopped before the budget, to say why


# ----------------------------------------------------------------------------- defects of issue 21
def test_rect_is_the_four_documented_keys():
    rect = {"x": 1, "y": 2, "width": 3, "height": 4, "top": 2, "left": 1, "right": 4, "bottom": 6}
    ff = Scripted(lambda name, params: rect)
    assert Element(ff, "e1").rect == {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0}


def test_deleting_a_cookie_that_is_not_there_sends_no_delete():
    ff = Scripted(
        lambda name, params: [{"name": "a", "value": "1"}] if name == "WebDriver:GetCookies" else None
    )
    assert ff.delete_cookie("nope") == 0
    assert ff.names() == ["WebDriver:GetCookies"]
    assert ff.delete_cookie("a") == 1
    assert ff.names()[-1] == "WebDriver:DeleteCookie"
    assert ff.delete_cookie() == 1


def test_navigate_resolves_a_file_path_and_refuses_what_is_not_a_url(tmp_path, monkeypatch):
    page = tmp_path / "page.html"
    page.write_text("<title>x</title>")
    monkeypatch.chdir(tmp_path)
    assert resolve_url("page.html") == page.resolve().as_uri()
    assert resolve_url(str(page)) == page.as_uri()
    assert resolve_url("https://example.org/a") == "https://example.org/a"
    assert resolve_url("about:blank") == "about:blank"
    with pytest.raises(UsageError, match=r"no file 'missing\.html'"):
        resolve_url("missing.html")
    with pytest.raises(UsageError) as info:
        resolve_url("localhost:8000/app")
    assert "http://localhost:8000/app" in (info.value.hint or "")
    with pytest.raises(UsageError) as info:
        resolve_url("example.org")
    assert "https://example.org" in (info.value.hint or "")
    with pytest.raises(UsageError, match="another one"):
        resolve_url("page.html", local=False)
    ff = Scripted(lambda name, params: None)
    assert ff.navigate("page.html") == page.resolve().as_uri()
    assert ff.sent == [("WebDriver:Navigate", {"url": page.resolve().as_uri()})]


def test_a_page_going_away_under_the_check_is_tried_again_on_the_next_page():
    from tether_firefox.marionette import JavascriptError

    answers: list[Any] = [
        None,
        JavascriptError("x", code="javascript error", app_message="Document was unloaded"),
    ]

    def answer(name: str, params: dict) -> Any:
        if name == "WebDriver:ExecuteAsyncScript":
            got = answers.pop(0) if answers else READY
            if isinstance(got, Exception):
                raise got
            return got
        return None

    ff = Scripted(answer)
    ff.click("#next")
    assert ff.names() == ["WebDriver:ExecuteAsyncScript"] * 3 + ["WebDriver:ElementClick"]


def test_expect_keeps_the_last_state_through_a_navigation():
    ff = Scripted(state_answer([{"count": 1, "text": "Saving"}, None, {"count": 1, "text": "Saving"}]))
    with pytest.raises(ExpectationFailed, match="last seen 'Saving'"):
        ff.expect("#s", text="Saved", timeout=0.2)


def test_attach_keeps_the_command_deadline_of_a_timeouts_value(monkeypatch):
    import tether

    seen = {}
    monkeypatch.setattr(tether, "connect", lambda app, host, port, **kw: seen.update(kw) or kw)
    Firefox.attach(port=1, timeouts=Timeouts(command=4))
    assert "timeout" not in seen and seen["probe_timeout"] == 4
    Firefox.attach(port=1, timeout=12)
    assert seen["timeout"] == 12 and seen["probe_timeout"] == 5.0
