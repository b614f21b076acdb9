"""Keys and the mouse: WebDriver actions (``WebDriver:PerformActions``/``ReleaseActions``).

:class:`Actions` builds one action chain across three input sources — a keyboard, a mouse and a
wheel — as WebDriver wants it: every source gets one action per tick (a zero pause where it has
nothing to do), so steps run in the order they were added.

>>> Actions(ff).press("Control+a").type("new text").press("Enter").perform()     # doctest: +SKIP
>>> Actions(ff).drag(ff.find("#card"), ff.find("#done")).perform()               # doctest: +SKIP

Key names are WebDriver's (https://w3c.github.io/webdriver/#keyboard-actions), matched without
regard to case, with a few common aliases (``Ctrl``, ``Esc``, ``Del``, ``Cmd``, ``Up`` …). A name
that is not a key is refused (:class:`~tether.errors.UsageError`, exit 2) before anything is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tether.errors import TetherError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

    from .client import Element, Firefox

#: WebDriver's normalised key values (the code points Firefox expects for the named keys)
KEYS: dict[str, str] = {
    "cancel": "\ue001",
    "help": "\ue002",
    "backspace": "\ue003",
    "tab": "\ue004",
    "clear": "\ue005",
    "return": "\ue006",
    "enter": "\ue007",
    "shift": "\ue008",
    "control": "\ue009",
    "alt": "\ue00a",
    "pause": "\ue00b",
    "escape": "\ue00c",
    "space": "\ue00d",
    "pageup": "\ue00e",
    "pagedown": "\ue00f",
    "end": "\ue010",
    "home": "\ue011",
    "arrowleft": "\ue012",
    "arrowup": "\ue013",
    "arrowright": "\ue014",
    "arrowdown": "\ue015",
    "insert": "\ue016",
    "delete": "\ue017",
    "meta": "\ue03d",
    **{f"f{n}": chr(0xE031 + n - 1) for n in range(1, 13)},
}
ALIASES = {
    "ctrl": "control",
    "esc": "escape",
    "del": "delete",
    "cmd": "meta",
    "command": "meta",
    "super": "meta",
    "option": "alt",
    "left": "arrowleft",
    "right": "arrowright",
    "up": "arrowup",
    "down": "arrowdown",
    "pgup": "pageup",
    "pgdn": "pagedown",
}


def key_value(name: str) -> str:
    """The value WebDriver sends for a key: a named key (``Enter``, ``Control``) or one character."""
    if len(name) == 1:
        return name
    found = KEYS.get(ALIASES.get(name.lower(), name.lower()))
    if found is None:
        raise UsageError(
            f"unknown key {name!r}",
            hint="a key is one character or a name such as Enter, Tab, Escape, Backspace, Delete, Space, "
            "ArrowUp, PageDown, Home, End, F5, Control, Shift, Alt, Meta; combine with + (Control+a)",
        )
    return found


def parse_chord(chord: str) -> list[str]:
    """``Control+Shift+k`` -> the key values held together, in order; ``+`` alone is the plus key."""
    if chord in ("+", ""):
        return [key_value(chord)] if chord else []
    parts = chord.split("+")
    if "" in parts:  # "Control++": the plus key with Control
        parts = [p for p in parts if p] + ["+"]
    return [key_value(p) for p in parts]


def parse_keys(chords: Iterable[str]) -> list[list[str]]:
    """Every chord checked (:class:`UsageError` for an unknown key) before anything is sent."""
    return [parse_chord(c) for c in chords]


def _origin(target: Element | None) -> Any:
    return "viewport" if target is None else target.to_dict()


class Actions:
    """A chain of key, mouse and wheel steps, sent as one ``WebDriver:PerformActions``."""

    def __init__(self, ff: Firefox) -> None:
        self.ff = ff
        self._ticks: list[tuple[str, dict[str, Any]]] = []

    def _add(self, source: str, action: dict[str, Any]) -> Self:
        self._ticks.append((source, action))
        return self

    # -- keyboard --------------------------------------------------------------------------
    def key_down(self, key: str) -> Self:
        """Hold ``key`` (a name or a character) down."""
        return self._add("key", {"type": "keyDown", "value": key_value(key)})

    def key_up(self, key: str) -> Self:
        """Release ``key``."""
        return self._add("key", {"type": "keyUp", "value": key_value(key)})

    def press(self, *chords: str) -> Self:
        """Press each chord in turn: ``"Enter"``, ``"Shift+Tab"``, ``"Control+a"``, ``"x"``."""
        for values in parse_keys(chords):
            for v in values:
                self._add("key", {"type": "keyDown", "value": v})
            for v in reversed(values):
                self._add("key", {"type": "keyUp", "value": v})
        return self

    def type(self, text: str) -> Self:
        """Type ``text`` character by character into whatever has the focus."""
        for ch in text:
            self._add("key", {"type": "keyDown", "value": ch})
            self._add("key", {"type": "keyUp", "value": ch})
        return self

    # -- mouse -----------------------------------------------------------------------------
    def move_to(self, target: Element | None = None, x: int = 0, y: int = 0, *, duration: int = 100) -> Self:
        """Move the mouse to the centre of ``target`` plus (``x``, ``y``), or to (``x``, ``y``) of the
        viewport when no element is given."""
        return self._add(
            "pointer",
            {
                "type": "pointerMove",
                "origin": _origin(target),
                "x": int(x),
                "y": int(y),
                "duration": duration,
            },
        )

    def hover(self, target: Element) -> Self:
        """Rest the mouse over ``target`` (a hover menu opens)."""
        return self.move_to(target)

    def pointer_down(self, button: int = 0) -> Self:
        """Press a mouse button (0 left, 1 middle, 2 right)."""
        return self._add("pointer", {"type": "pointerDown", "button": button})

    def pointer_up(self, button: int = 0) -> Self:
        """Release a mouse button."""
        return self._add("pointer", {"type": "pointerUp", "button": button})

    def click(self, target: Element | None = None, button: int = 0) -> Self:
        """Click (on ``target`` when given, else where the mouse is)."""
        if target is not None:
            self.move_to(target)
        return self.pointer_down(button).pointer_up(button)

    def drag(self, source: Element, target: Element) -> Self:
        """Press on ``source``, move to ``target`` and release there."""
        self.move_to(source).pointer_down()
        self.move_to(source, 5, 5, duration=50)  # a first small move: pages start a drag on movement
        self.move_to(target, duration=200)
        return self.pointer_up()

    # -- wheel -----------------------------------------------------------------------------
    def scroll(self, target: Element | None = None, dx: int = 0, dy: int = 0) -> Self:
        """Turn the wheel by (``dx``, ``dy``) CSS pixels over ``target`` (scrolled into view
        first), or over the viewport's corner."""
        return self._add(
            "wheel",
            {
                "type": "scroll",
                "origin": _origin(target),
                "x": 0,
                "y": 0,
                "deltaX": int(dx),
                "deltaY": int(dy),
            },
        )

    def pause(self, ms: int) -> Self:
        """Wait ``ms`` milliseconds between steps."""
        return self._add("pointer", {"type": "pause", "duration": int(ms)})

    # -- send ------------------------------------------------------------------------------
    def to_wire(self) -> list[dict[str, Any]]:
        """The ``actions`` parameter: one list per source used, aligned tick by tick."""
        used = [s for s in ("key", "pointer", "wheel") if any(src == s for src, _ in self._ticks)]
        sources = {
            "key": {"type": "key", "id": "tether-keyboard"},
            "pointer": {"type": "pointer", "id": "tether-mouse", "parameters": {"pointerType": "mouse"}},
            "wheel": {"type": "wheel", "id": "tether-wheel"},
        }
        out = []
        for name in used:
            steps = [act if src == name else {"type": "pause", "duration": 0} for src, act in self._ticks]
            out.append({**sources[name], "actions": steps})
        return out

    def perform(self) -> None:
        """Send the chain, then release every key and button still held."""
        if not self._ticks:
            return
        try:
            self.ff.request("WebDriver:PerformActions", {"actions": self.to_wire()})
        except TetherError:
            with contextlib.suppress(TetherError):  # the first error is the one to report
                self.ff.request("WebDriver:ReleaseActions")
            raise
        self._ticks.clear()
        if self.ff.dialog() is None:  # a dialog the keys opened stays as it is
            self.ff.request("WebDriver:ReleaseActions")


__all__ = ["ALIASES", "KEYS", "Actions", "key_value", "parse_chord", "parse_keys"]
