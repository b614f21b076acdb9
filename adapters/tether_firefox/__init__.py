"""tether's Firefox adapter: Marionette (default 2828, or the port in MarionetteActivePort)."""

from .adapter import FirefoxAdapter

__all__ = ["FirefoxAdapter"]
