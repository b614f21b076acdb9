"""Key names and the action chain tether sends for keys and the mouse (no Firefox needed)."""

from __future__ import annotations

import pytest

from tether.errors import UsageError
from tether_firefox.actions import Actions, parse_chord, parse_keys
from tether_firefox.client import Element, Firefox


def test_chords_name_keys_without_regard_to_case_and_with_aliases():
    assert parse_chord("Control+a") == ["\ue009", "a"]
    assert parse_chord("ctrl+Shift+K") == ["\ue009", "\ue008", "K"]
    assert parse_chord("Enter") == ["\ue007"]
    assert parse_chord("esc") == ["\ue00c"]
    assert parse_chord("F5") == ["\ue035"]
    assert parse_chord("+") == ["+"]
    assert parse_chord("Control++") == ["\ue009", "+"]


@pytest.mark.parametrize("chord", ["Contrl+k", "Entr", "Control+hello", "F13"])
def test_an_unknown_key_name_is_refused_before_anything_is_sent(chord):
    with pytest.raises(UsageError) as info:
        parse_keys(["Enter", chord])
    assert info.value.exit_code == 2


def test_the_chain_keeps_its_order_across_keyboard_mouse_and_wheel():
    ff = Firefox("127.0.0.1", 1)  # never connects: to_wire only builds the parameters
    chain = Actions(ff).press("Shift+Tab").hover(Element(ff, "e1")).scroll(None, 0, 300)
    wire = {src["type"]: src["actions"] for src in chain.to_wire()}
    assert set(wire) == {"key", "pointer", "wheel"}
    assert all(len(actions) == 6 for actions in wire.values())  # one action per tick, pauses elsewhere
    assert [a["type"] for a in wire["key"]] == ["keyDown", "keyDown", "keyUp", "keyUp", "pause", "pause"]
    assert wire["key"][1]["value"] == "\ue004"
    assert wire["pointer"][4]["origin"] == {"element-6066-11e4-a52e-4f735466cecf": "e1"}
    assert wire["wheel"][5] == {
        "type": "scroll",
        "origin": "viewport",
        "x": 0,
        "y": 0,
        "deltaX": 0,
        "deltaY": 300,
    }
