"""tether's Firefox adapter: Marionette (default 2828, or the port in MarionetteActivePort).

>>> from tether_firefox import Firefox
>>> with Firefox.attach() as ff:                                     # doctest: +SKIP
...     ff.navigate("http://127.0.0.1:8000/"); print(ff.title)
...     ff.click("#load")                     # waits until #load is there, visible, enabled, uncovered
...     ff.expect("#status", text="Done")     # retries until it holds (ExpectationFailed after 5 s)

``launch_firefox``/``quit_firefox`` start and stop a Firefox for automation, ``BiDi`` streams console
messages, ``selenium_driver`` hands the same Firefox to Selenium. Heavy libraries
(selenium, websocket-client) load only when those are used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActionTimeout",
    "Actions",
    "BiDi",
    "Element",
    "ExpectationFailed",
    "Firefox",
    "FirefoxAdapter",
    "ShadowRoot",
    "Timeouts",
    "launch_firefox",
    "quit_firefox",
    "selenium_driver",
]

# name -> (module, attribute). ``launch_firefox`` is not called ``launch``: that is the submodule's name.
# Even the adapter loads on first use: ``tether_firefox.pytest_plugin`` loads in every pytest run.
_LAZY = {
    "FirefoxAdapter": ("adapter", "FirefoxAdapter"),
    "Firefox": ("client", "Firefox"),
    "Element": ("client", "Element"),
    "ShadowRoot": ("client", "ShadowRoot"),
    "Actions": ("actions", "Actions"),
    "Timeouts": ("timeouts", "Timeouts"),
    "ActionTimeout": ("waiting", "ActionTimeout"),
    "ExpectationFailed": ("waiting", "ExpectationFailed"),
    "launch_firefox": ("launch", "launch"),
    "quit_firefox": ("launch", "quit_firefox"),
    "BiDi": ("bidi", "BiDi"),
    "selenium_driver": ("selenium", "selenium_driver"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
