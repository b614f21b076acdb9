"""tether's Firefox adapter: Marionette (default 2828, or the port in MarionetteActivePort).

>>> from tether_firefox import Firefox
>>> with Firefox.attach() as ff:                                     # doctest: +SKIP
...     ff.navigate("http://127.0.0.1:8000/"); print(ff.title)

``launch``/``quit_firefox`` start and stop a Firefox for automation, ``BiDi`` streams console
messages, ``selenium_driver`` hands the same Firefox to Selenium. Heavy libraries
(selenium, websocket-client) load only when those are used.
"""

from __future__ import annotations

from typing import Any

from .adapter import FirefoxAdapter

__all__ = ["BiDi", "Element", "Firefox", "FirefoxAdapter", "launch", "quit_firefox", "selenium_driver"]

_LAZY = {
    "Firefox": "client",
    "Element": "client",
    "launch": "launch",
    "quit_firefox": "launch",
    "BiDi": "bidi",
    "selenium_driver": "selenium",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
