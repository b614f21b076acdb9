"""What real web tests need, on real headless Firefox ESR with pages served locally: elements found
below elements and inside shadow roots, element state, dialogs, frames, keys and mouse, windows."""

from __future__ import annotations

import pytest

import tether

from .test_firefox_cli import tether as run_tether
from .test_firefox_site import serve_pages

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with serve_pages(tmp_path_factory.mktemp("site")) as base:
        yield base


@pytest.fixture
def ff(firefox_app):
    with tether.connect("firefox", port=firefox_app.port, timeout=15) as session:
        yield session


def cli(firefox_app, tmp_path, *args: str, check: bool = True):
    """``tether firefox ARGS --port <the session Firefox>``."""
    return run_tether(*args, "--port", str(firefox_app.port), state=tmp_path / "state", check=check)


# ----------------------------------------------------------------------------- elements
def test_find_below_an_element_and_every_match_below_it(ff, site):
    ff.navigate(f"{site}/widgets.html")
    items = ff.find_all("#list li")
    assert [li.find("b.bold").text for li in items] == ["A", "B"]
    assert [b.text for b in ff.find("#list").find_all(".bold")] == ["A", "B"]
    assert ff.find("#list").find("./li[2]/b", by="xpath").text == "B"
    assert ff.find("#list").find_all("i") == []


def test_element_state_and_css(ff, site):
    ff.navigate(f"{site}/widgets.html")
    assert ff.find("#agree").is_selected() and not ff.find("#r1").is_selected()
    assert ff.find("#r2").is_selected()
    assert not ff.find("#off").is_enabled() and ff.find("#agree").is_enabled()
    assert not ff.find("#hidden").is_displayed() and ff.find("#red").is_displayed()
    assert ff.find("#red").css_value("color") == "rgb(255, 0, 0)"


def test_shadow_roots_and_piercing_selectors(ff, site):
    from tether_firefox.client import ShadowRoot
    from tether_firefox.marionette import NoSuchShadowRoot

    ff.navigate(f"{site}/widgets.html")
    root = ff.find("#card").shadow_root
    assert isinstance(root, ShadowRoot)
    assert root.find(".title").text == "Card title"
    assert [p.text for p in root.find_all("p")] == ["Card title"]
    assert ff.find("my-card >>> my-inner >>> .deep").text == "deep text"
    assert [e.text for e in ff.find_all("my-card >>> button.ok")] == ["OK"]
    ff.click("#card >>> button.ok")
    assert ff.find("#card >>> button.ok").text == "clicked"
    assert isinstance(ff.execute("return arguments[0].shadowRoot", [ff.find("#card")]), ShadowRoot)
    with pytest.raises(NoSuchShadowRoot):
        _ = ff.find("#red").shadow_root


def test_get_cookie_and_a_typed_error_for_a_bad_cookie_domain(ff, site):
    from tether_firefox.marionette import InvalidCookieDomain

    ff.navigate(f"{site}/widgets.html")
    assert ff.get_cookie("flavour")["value"] == "chocolate"
    assert ff.get_cookie("nope") is None
    with pytest.raises(InvalidCookieDomain) as info:
        ff.add_cookie("x", "1", domain="example.org")
    assert info.value.exit_code == 1
