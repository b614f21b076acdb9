"""Auto-waiting: the actionability checks of element actions, and ``expect``'s retrying assertions.

An element action (``click``, ``type``, ``clear``, ``hover``, ``drag``, ``scroll`` to an element,
``press`` on an element, an element's ``screenshot``) first waits, within its deadline, until its
element is

- **attached**: found from the selector again on every try (a node the page re-rendered is not
  stale: the new one is found),
- **visible**: a non-empty box, and not ``display: none`` / ``visibility: hidden`` on the way up,
- **enabled**: not ``:disabled`` (a disabled fieldset included), not ``aria-disabled="true"``,
- **editable** (``type``, ``clear``): a text field, text area or ``contenteditable``, not read-only,
- **scrolled into view**: its in-view centre point inside the viewport (else ``scrollIntoView``),
- **stable**: the same box in two animation frames (a CSS transition or animation has ended),
- **receiving events**: the hit-test point (``elementFromPoint`` at the click point, the in-view
  centre of its first box, where WebDriver clicks) is the element or inside it.

All checks of one try run in ONE injected script (:data:`ACTIONABLE`, one Marionette round trip).
Then the action happens once. At the deadline :class:`ActionTimeout` (exit 4) names the check that
failed last and what blocks it: ``#under is covered by div#veil``; nothing was done. ``force``
skips the checks. These are Playwright's actionability checks
(https://playwright.dev/docs/actionability), the bar web testers know.

``expect`` reads the state of the matches in one script per poll (:data:`STATE`) and compares it
here, in Python (so a compiled ``re`` pattern means what Python says); at the deadline
:class:`ExpectationFailed` (exit 1, also an ``AssertionError``) names the expectation and the
last value seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tether.errors import CommandError, Timeout, UsageError

#: which checks each action waits for (``hit`` = receiving events; ``scroll`` = scrolled into view)
CHECKS: dict[str, tuple[str, ...]] = {
    "click": ("visible", "enabled", "scroll", "stable", "hit"),
    "hover": ("visible", "scroll", "stable", "hit"),
    "drag": ("visible", "enabled", "scroll", "stable", "hit"),
    "drop": ("visible", "scroll", "stable", "hit"),
    "type": ("visible", "enabled", "editable", "scroll", "stable"),
    "clear": ("visible", "enabled", "editable", "scroll", "stable"),
    "press": ("visible", "enabled"),
    "scroll": ("visible", "stable"),
    "screenshot": ("visible", "scroll", "stable"),
}

#: JavaScript: ``tetherFind(loc)`` -> the elements a locator (:func:`locator`) matches, in document order
FIND = r"""
const tetherFind = (loc) => {
  if (loc.els) return loc.els.filter((e) => e && e.nodeType === 1);
  const doc = document;
  if (loc.xpath !== undefined) {
    const r = doc.evaluate(loc.xpath, doc, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const out = [];
    for (let i = 0; i < r.snapshotLength; i++) {
      if (r.snapshotItem(i).nodeType === 1) out.push(r.snapshotItem(i));
    }
    return out;
  }
  if (loc.css) {
    let scopes = [doc];
    loc.css.forEach((part, i) => {
      const found = scopes.flatMap((s) => Array.from(s.querySelectorAll(part)));
      scopes = i === loc.css.length - 1 ? found : found.map((e) => e.shadowRoot).filter(Boolean);
    });
    return scopes;
  }
  const v = loc.value, all = (sel) => Array.from(doc.querySelectorAll(sel));
  const text = (a) => (a.innerText || a.textContent || '').trim();
  switch (loc.by) {
    case 'id': return all('[id]').filter((e) => e.id === v);
    case 'name': return Array.from(doc.getElementsByName(v));
    case 'tag name': return Array.from(doc.getElementsByTagName(v));
    case 'class name': return Array.from(doc.getElementsByClassName(v));
    case 'link text': return all('a').filter((a) => text(a) === v);
    case 'partial link text': return all('a').filter((a) => text(a).includes(v));
  }
  throw new SyntaxError('unknown locator strategy ' + loc.by);
};
const tetherDescribe = (e) => !e ? 'nothing' : e.nodeType !== 1 ? String(e.nodeName).toLowerCase() :
  e.localName + (e.id ? '#' + e.id : '') +
  Array.from(e.classList || []).slice(0, 3).map((c) => '.' + c).join('');
"""

#: ExecuteAsyncScript: one try of the checks; ``arguments`` = (locator, {checks, force}, callback)
ACTIONABLE = (
    FIND
    + r"""
const [loc, opts, done] = arguments;
const want = new Set(opts.checks);
const frame = () => new Promise((r) => { requestAnimationFrame(() => r()); setTimeout(r, 100); });
const box = (e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
const intoView = (el) => el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
const fail = (check, detail, blocker) => ({ok: false, check, detail, blocker: blocker || null});
const hidden = (el) => {
  for (let e = el; e && e.nodeType === 1; e = e.parentElement || (e.getRootNode() && e.getRootNode().host)) {
    const s = getComputedStyle(e);
    if (s.display === 'none') return 'display: none' + (e === el ? '' : ' on ' + tetherDescribe(e));
  }
  const s = getComputedStyle(el);
  if (s.visibility !== 'visible') return 'visibility: ' + s.visibility;
  if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true}))
    return 'not rendered';
  const [, , w, h] = box(el);
  if (w === 0 || h === 0) return 'an empty box (' + w + 'x' + h + ')';
  return null;
};
const textField = (el) => el.localName === 'textarea' || (el.localName === 'input' &&
  !['checkbox', 'radio', 'button', 'submit', 'reset', 'image', 'file', 'range', 'color', 'hidden']
    .includes((el.type || '').toLowerCase()));
const point = (el) => {
  const b = el.getClientRects()[0] || el.getBoundingClientRect();
  const vw = document.documentElement.clientWidth || innerWidth;
  const vh = document.documentElement.clientHeight || innerHeight;
  const l = Math.max(0, b.left), r = Math.min(vw, b.right);
  const t = Math.max(0, b.top), bt = Math.min(vh, b.bottom);
  if (l >= r || t >= bt) return null;
  return [Math.floor((l + r) / 2), Math.floor((t + bt) / 2)];
};
(async () => {
  let els;
  try { els = tetherFind(loc); } catch (e) { return fail('selector', String(e.message || e)); }
  const el = els[0];
  if (!el) return fail('attached', 'matches no element');
  if (!el.isConnected) return fail('attached', 'is no longer attached to the document');
  if (opts.force) {
    if (want.has('scroll') && !point(el)) intoView(el);
    return {ok: true, element: el};
  }
  // an <option> has no box of its own in a closed drop-down: its <select> is what shows and takes the click
  const shown = ['option', 'optgroup'].includes(el.localName) ? (el.closest('select, datalist') || el) : el;
  const file = el.localName === 'input' && (el.type || '').toLowerCase() === 'file';
  if (want.has('editable') && file) return {ok: true, element: el};  // takes paths, hidden or not
  if (want.has('visible')) {
    const why = hidden(shown);
    if (why) return fail('visible', 'is not visible (' + why + ')');
  }
  if (want.has('enabled')) {
    if (el.matches(':disabled') || shown.matches(':disabled')) return fail('enabled', 'is disabled');
    const aria = el.closest('[aria-disabled="true"]');
    const where = aria === el ? '' : ' on ' + tetherDescribe(aria);
    if (aria) return fail('enabled', 'is disabled (aria-disabled' + where + ')');
  }
  if (want.has('editable')) {
    if (!(textField(el) || el.isContentEditable || el.localName === 'select'))
      return fail('editable', 'is not editable (a <' + el.localName +
        (el.type ? ' type=' + el.type : '') + '>)');
    if (el.readOnly) return fail('editable', 'is read-only');
  }
  if (want.has('scroll') && !point(shown)) intoView(shown);
  if (want.has('stable')) {
    const before = box(shown);
    await frame();
    if (!el.isConnected) return fail('attached', 'was removed from the document');
    const after = box(shown);
    if (before.some((v, i) => Math.abs(v - after[i]) > 0.5))
      return fail('stable', 'is moving (its box went from ' + before.map(Math.round).join(',') +
        ' to ' + after.map(Math.round).join(',') + ' in one frame)');
  }
  if (want.has('hit')) {
    const p = point(shown);
    if (!p) return fail('hit', 'is outside the viewport');
    const root = shown.getRootNode();
    const hit = (root.elementFromPoint ? root : document).elementFromPoint(p[0], p[1]);
    let inside = false;
    for (let n = hit; n; n = n.parentNode || n.host) if (n === shown) { inside = true; break; }
    if (!inside) {
      if (hit && hit.contains(shown) && getComputedStyle(shown).pointerEvents === 'none')
        return fail('hit', 'does not receive pointer events (pointer-events: none)');
      return fail('hit', 'is covered by ' + tetherDescribe(hit) + ' at ' + p.join(','), tetherDescribe(hit));
    }
  }
  return {ok: true, element: el};
})().then(done, (e) => done({ok: false, check: 'script', detail: String((e && e.message) || e)}));
"""
)

#: ExecuteScript: what ``expect`` compares; ``arguments`` = (locator, [attribute names])
STATE = (
    FIND
    + r"""
const [loc, attrs] = arguments;
let els;
try { els = tetherFind(loc); } catch (e) { return {error: String(e.message || e)}; }
const el = els[0];
if (!el) return {count: 0};
const s = getComputedStyle(el), r = el.getBoundingClientRect();
const visible = r.width > 0 && r.height > 0 && s.visibility === 'visible' &&
  (!el.checkVisibility || el.checkVisibility({visibilityProperty: true}));
const out = {
  count: els.length,
  text: el.innerText !== undefined ? el.innerText : el.textContent,
  value: 'value' in el ? String(el.value) : null,
  visible,
  enabled: !(el.matches(':disabled') || el.closest('[aria-disabled="true"]')),
  checked: 'checked' in el && (el.type === 'checkbox' || el.type === 'radio') ? el.checked
    : el.localName === 'option' ? el.selected : el.getAttribute('aria-checked') === 'true',
  attrs: {},
};
for (const a of attrs) out.attrs[a] = el.getAttribute(a);
return out;
"""
)


def locator(selector: str, by: str) -> dict[str, Any]:
    """The locator :data:`FIND` reads: CSS parts (``a >>> b`` pierces shadow roots), an XPath, or
    another WebDriver strategy (``id``, ``name``, ``tag name``, ``class name``, ``link text``,
    ``partial link text``). Unknown strategies are refused before anything is sent."""
    if by == "css selector":
        parts = [p.strip() for p in selector.split(">>>")]
        if not all(parts):
            raise UsageError(f"{selector!r}: every part around >>> must be a CSS selector")
        return {"css": parts}
    if by == "xpath":
        return {"xpath": selector}
    if by in ("id", "name", "tag name", "class name", "link text", "partial link text"):
        return {"by": by, "value": selector}
    raise UsageError(f"unknown locator strategy {by!r}")


# ----------------------------------------------------------------------------- errors
class ActionTimeout(Timeout):
    """An element action's element did not become actionable within the deadline (exit 4); nothing
    was done. ``check`` names the check that failed last (``attached``, ``visible``, ``enabled``,
    ``editable``, ``stable``, ``receiving events``), ``blocker`` what covers the element, if that was it."""

    def __init__(
        self, message: str, *, check: str, target: str, blocker: str | None = None, waited: float = 0.0
    ) -> None:
        super().__init__(
            message,
            hint="`--force` (force=True) acts at once, without waiting for these checks",
            check=check,
            target=target,
            blocker=blocker,
            waited=round(waited, 2),
        )
        self.check, self.target, self.blocker, self.waited = check, target, blocker, waited


class ExpectationFailed(CommandError, AssertionError):
    """An ``expect`` was not met within its deadline (exit 1): ``expectation`` says what was
    expected, ``last_seen`` the last value read. Also an ``AssertionError``, so pytest reports it
    as a failed assertion."""

    def __init__(self, message: str, *, expectation: str, last_seen: Any, waited: float) -> None:
        CommandError.__init__(
            self, message, expectation=expectation, last_seen=last_seen, waited=round(waited, 2)
        )
        self.expectation, self.last_seen, self.waited = expectation, last_seen, waited


CHECK_NAMES = {"hit": "receiving events", "scroll": "scrolled into view"}


def seconds(value: float) -> str:
    """``2 s``, ``0.5 s``, ``12.3 s``: a duration as the messages say it."""
    return f"{value:.0f} s" if value >= 10 or abs(value - round(value)) < 0.05 else f"{value:.1f} s"


def action_timeout(action: str, target: str, last: Mapping[str, Any] | None, waited: float) -> ActionTimeout:
    """The error for an action whose checks were still failing at the deadline:
    ``could not click #under within 2 s: #under is covered by div#veil``."""
    if not last:  # not even one try answered in time
        return ActionTimeout(
            f"could not {action} {target} within {seconds(waited)}: no check finished in time",
            check="attached",
            target=target,
            waited=waited,
        )
    check = str(last.get("check") or "attached")
    detail = str(last.get("detail") or "is not ready")
    blocker = last.get("blocker")
    return ActionTimeout(
        f"could not {action} {target} within {seconds(waited)}: {target} {detail}",
        check=CHECK_NAMES.get(check, check),
        target=target,
        blocker=str(blocker) if blocker else None,
        waited=waited,
    )


# ----------------------------------------------------------------------------- expect
Text = str | re.Pattern[str]


def normalize(text: Any) -> str:
    """Whitespace runs become one space, and none at the ends (how ``text=`` compares)."""
    return " ".join(str(text).split())


def _show(expected: Any) -> str:
    if isinstance(expected, re.Pattern):
        return f"/{expected.pattern}/"
    return repr(expected)


def text_matches(seen: Any, expected: Text, *, whole: bool) -> bool:
    """``seen`` equals (``whole``) or contains ``expected`` after whitespace normalisation; a
    compiled pattern is searched for in the normalised text."""
    if seen is None:
        return False
    got = normalize(seen)
    if isinstance(expected, re.Pattern):
        return expected.search(got) is not None
    want = normalize(expected)
    return got == want if whole else want in got


def value_matches(seen: Any, expected: Text | None) -> bool:
    """An input's value (or an attribute): exact, or searched by a compiled pattern; ``None`` = absent."""
    if expected is None or seen is None:
        return seen is expected
    if isinstance(expected, re.Pattern):
        return expected.search(str(seen)) is not None
    return str(seen) == str(expected)


@dataclass(frozen=True)
class Expectation:
    """One expected property of the first element a selector matches (or of all: ``count``):
    ``describe`` says it as the failure message does; ``seen(state)`` the value read;
    ``met(state)`` whether it holds."""

    describe: str
    seen: Callable[[dict[str, Any]], Any]
    met: Callable[[dict[str, Any]], bool]
    needs_element: bool = True
    quoted: bool = True  # the value seen is quoted (text) or said as it is (visible, 3)


def _element_expectation(describe: str, key: str, check: Callable[[Any], bool]) -> Expectation:
    return Expectation(describe, lambda s: s.get(key), lambda s: bool(s.get("count")) and check(s.get(key)))


def expectations(
    *,
    text: Text | None = None,
    contains: Text | None = None,
    value: Text | None = None,
    count: int | None = None,
    visible: bool | None = None,
    enabled: bool | None = None,
    checked: bool | None = None,
    attr: tuple[str, Text | None] | Mapping[str, Text | None] | None = None,
) -> list[Expectation]:
    """The expectations of ``expect(selector, …)``, checked (a :class:`UsageError` before
    anything is sent) — at least one must be given."""
    out: list[Expectation] = []
    for name, given in (("text", text), ("contains", contains), ("value", value)):
        if given is not None and not isinstance(given, (str, re.Pattern)):
            raise UsageError(f"{name}= takes a string or a compiled regex, not {type(given).__name__}")
    if text is not None:
        out.append(
            _element_expectation(
                f"to have text {_show(text)}", "text", lambda v: text_matches(v, text, whole=True)
            )
        )
    if contains is not None:
        out.append(
            _element_expectation(
                f"to contain text {_show(contains)}", "text", lambda v: text_matches(v, contains, whole=False)
            )
        )
    if value is not None:
        out.append(
            _element_expectation(f"to have value {_show(value)}", "value", lambda v: value_matches(v, value))
        )
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UsageError(f"count= must be a whole number >= 0, not {count!r}")
        out.append(
            Expectation(
                f"to match {count} element{'s' if count != 1 else ''}",
                lambda s: s.get("count", 0),
                lambda s: s.get("count", 0) == count,
                needs_element=False,
            )
        )
    if visible is not None:
        # hidden: no element at all counts as hidden (as Playwright's toBeHidden)
        out.append(
            Expectation(
                "to be visible" if visible else "to be hidden",
                lambda s: ("visible" if s.get("visible") else "hidden") if s.get("count") else None,
                lambda s: (
                    bool(s.get("count")) and s.get("visible") is True
                    if visible
                    else not (s.get("count") and s.get("visible"))
                ),
                needs_element=bool(visible),
                quoted=False,
            )
        )
    if enabled is not None:
        out.append(
            Expectation(
                "to be enabled" if enabled else "to be disabled",
                lambda s: ("enabled" if s.get("enabled") else "disabled") if s.get("count") else None,
                lambda s: bool(s.get("count")) and s.get("enabled") == enabled,
                quoted=False,
            )
        )
    if checked is not None:
        out.append(
            Expectation(
                "to be checked" if checked else "to be unchecked",
                lambda s: ("checked" if s.get("checked") else "unchecked") if s.get("count") else None,
                lambda s: bool(s.get("count")) and s.get("checked") == checked,
                quoted=False,
            )
        )
    if attr is not None:
        pairs = list(attr.items()) if isinstance(attr, Mapping) else [attr]
        for pair in pairs:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise UsageError("attr= takes (name, expected) or {name: expected}; expected None = absent")
            name, want = pair
            if want is not None and not isinstance(want, (str, re.Pattern)):
                raise UsageError(f"attr {name!r}: expected a string, a compiled regex or None")
            said = (
                f"to have no attribute {name}" if want is None else f"to have attribute {name}={_show(want)}"
            )
            out.append(
                Expectation(
                    said,
                    lambda s, n=name: (s.get("attrs") or {}).get(n),
                    lambda s, n=name, w=want: (
                        bool(s.get("count")) and value_matches((s.get("attrs") or {}).get(n), w)
                    ),
                )
            )
    if not out:
        raise UsageError(
            "expect what? give text=, contains=, value=, count=, visible=, enabled=, checked= or attr="
        )
    return out


def attr_names(attr: tuple[str, Any] | Mapping[str, Any] | None) -> list[str]:
    """The attribute names :data:`STATE` must read for ``attr=``."""
    if attr is None:
        return []
    return list(attr) if isinstance(attr, Mapping) else [attr[0]]


def shown_value(value: Any) -> str:
    """A value seen, as the failure message quotes it (long text cut)."""
    if isinstance(value, str):
        text = normalize(value)
        return repr(text if len(text) <= 200 else text[:200] + "…")
    return str(value)


def expectation_failed(
    subject: str, failing: Expectation, state: dict[str, Any] | None, waited: float
) -> ExpectationFailed:
    """``expected #status to have text 'Never'; last seen 'Done' (waited 2 s)``."""
    if state is None:
        seen_text, seen = "nothing (no try finished in time)", None
    elif failing.needs_element and not state.get("count"):
        seen_text, seen = f"no element matching {subject}", None
    else:
        seen = failing.seen(state)
        if seen is None:
            seen_text = "nothing (no such attribute)"
        else:
            seen_text = shown_value(seen) if failing.quoted else str(seen)
    return ExpectationFailed(
        f"expected {subject} {failing.describe}; last seen {seen_text} (waited {seconds(waited)})",
        expectation=f"{subject} {failing.describe}",
        last_seen=seen,
        waited=waited,
    )


def page_expectation(kind: str, expected: Text) -> Expectation:
    """``expect(title=…)`` / ``expect(url=…)``: the whole title or URL, exact or a compiled
    pattern searched for."""
    if not isinstance(expected, (str, re.Pattern)):
        raise UsageError(f"{kind}= takes a string or a compiled regex, not {type(expected).__name__}")
    return Expectation(
        f"to be {_show(expected)}",
        lambda s: s.get(kind),
        lambda s: value_matches(s.get(kind), expected),
        needs_element=False,
    )


__all__ = [
    "ACTIONABLE",
    "CHECKS",
    "STATE",
    "ActionTimeout",
    "Expectation",
    "ExpectationFailed",
    "action_timeout",
    "attr_names",
    "expectation_failed",
    "expectations",
    "locator",
    "normalize",
    "page_expectation",
]
