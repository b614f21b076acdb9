"""tether.image.PNG: still bytes for every caller, a picture for IPython."""

from __future__ import annotations

import struct
import zlib

from tether.image import PNG


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_png_is_still_the_same_bytes(tmp_path):
    raw = tiny_png()
    png = PNG(raw)
    assert isinstance(png, bytes) and png == raw and png.startswith(b"\x89PNG") and len(png) == len(raw)
    png.save(tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == raw
    assert PNG.read(tmp_path / "x.png") == raw


def test_ipython_gets_the_image_and_its_size():
    png = PNG(tiny_png(3, 2))
    assert png._repr_png_() == tiny_png(3, 2)
    assert png.size == (3, 2) and (png.width, png.height) == (3, 2)
    assert repr(png) == f"<PNG 3x2, {len(png)} bytes>"


def test_bytes_that_are_not_a_png_fall_back_to_text():
    junk = PNG(b"<html>not an image</html>")
    assert junk._repr_png_() is None and junk.size is None
    assert "not a PNG" in repr(junk)


def test_an_image_path_is_a_path_that_displays_its_png(tmp_path):
    from pathlib import Path

    from tether.image import ImagePath

    target = tmp_path / "snap.png"
    target.write_bytes(tiny_png())
    path = ImagePath(target)
    assert isinstance(path, Path) and path == target and path.read_bytes() == tiny_png()
    assert path._repr_png_() == tiny_png()
    assert ImagePath(tmp_path / "missing.png")._repr_png_() is None  # nothing to show, no error
