""":class:`PNG` and :class:`ImagePath`: images that show themselves in Jupyter and IPython.

:class:`PNG` is a ``bytes`` subclass: everything that takes bytes takes it (``write_bytes``,
``startswith``, ``len``, comparison with plain bytes), so a client method can return it where it
returned bytes without breaking a caller; a notebook displays it inline through ``_repr_png_``.
:class:`ImagePath` does the same for a method that returns the path of an image it wrote (a
``pathlib.Path`` still, shown as the picture when the file is a readable PNG).

>>> png = PNG.read("snapshot.png")            # doctest: +SKIP
>>> png                                       # in a notebook: the picture
>>> png.width, png.height                     # doctest: +SKIP
(1280, 1024)

Imports nothing from tether (a rule-1 module): adapters and the core both may use it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PNG(bytes):
    """PNG image bytes, displayed inline by IPython/Jupyter (``_repr_png_``)."""

    __slots__ = ()

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> PNG:
        """The PNG file at ``path``."""
        return cls(Path(path).read_bytes())

    @property
    def is_png(self) -> bool:
        """Whether the bytes start with the PNG signature and carry an IHDR header."""
        return self.startswith(SIGNATURE) and self[12:16] == b"IHDR" and len(self) >= 24

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` in pixels from the IHDR header, or None when this is not a PNG."""
        if not self.is_png:
            return None
        return struct.unpack(">II", self[16:24])

    @property
    def width(self) -> int | None:
        return self.size[0] if self.size else None

    @property
    def height(self) -> int | None:
        return self.size[1] if self.size else None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path``; returns the path."""
        target = Path(path)
        target.write_bytes(self)
        return target

    def _repr_png_(self) -> bytes | None:
        # None lets IPython fall back to the text repr for bytes that are not a PNG
        return bytes(self) if self.is_png else None

    def __repr__(self) -> str:
        size = self.size
        if size is None:
            return f"PNG({bytes.__repr__(self[:32])}{'…' if len(self) > 32 else ''}, not a PNG)"
        return f"<PNG {size[0]}x{size[1]}, {len(self)} bytes>"


class ImagePath(type(Path())):  # type: ignore[misc]  # the concrete Path class of this OS (3.10+)
    """The path of an image file; displayed inline by IPython when it is a readable PNG."""

    def _repr_png_(self) -> bytes | None:
        try:
            png = PNG.read(self)
        except OSError:  # written on another machine (a remote app), or gone since
            return None
        return png._repr_png_()


__all__ = ["PNG", "ImagePath"]
