"""tether's IGV adapter: drive IGV's batch-command port (default 60151).

>>> import tether
>>> igv = tether.connect("igv")                   # scan, verify with 'echo', IGVClient
>>> igv.goto("chr1:100,000-200,000")
>>> with igv.session():                            # one connection for a burst
...     igv.load("reads.bam", index="reads.bam.bai")
...     igv.snapshot("shots/region.png")

Modules, top-down: ``adapter`` (hints, probe), ``protocol`` (nonce framing), ``args``,
``locus`` and ``commands`` (what may be sent; every batch command of IGV as data), ``client``
(``IGVClient``), ``script`` (a batch script's relative paths, by IGV's own runner's rule),
``launch`` (start IGV offline under Xvfb), ``links`` ('View in IGV' URLs), ``cli`` (``tether igv …``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["IGVAdapter", "IGVClient"]


def __getattr__(name: str) -> Any:
    # The client loads on first use, so registering the adapter stays cheap; the adapter too, so
    # that tether_igv.pytest_plugin (loaded in every pytest run) costs only pytest.
    if name == "IGVAdapter":
        from .adapter import IGVAdapter

        return IGVAdapter
    if name == "IGVClient":
        from .client import IGVClient

        return IGVClient
    raise AttributeError(name)
