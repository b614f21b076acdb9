"""Identification: ask each adapter "is this you?", in parallel, with short deadlines.

The model is nmap's version detection, with its rule that an active probe may have side
effects: an adapter's active probe runs **only** on listeners that adapter hints at
(its default port, its process, a file it wrote). ``deep`` adds nmap's NULL probe — connect,
send nothing, read what the peer says unasked — on every other listener.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import hostfiles
from .adapter import Adapter, Hint, ProbeResult, Verdict
from .endpoint import Confidence, Endpoint, Listener

DEFAULT_TIMEOUT = 1.0  # seconds per probe; loopback apps answer in milliseconds
BANNER_BYTES = 128


@dataclass
class Candidate:
    listener: Listener
    hints: list[tuple[Adapter, Hint]]


def hints_for(listener: Listener, adapters: Iterable[Adapter]) -> list[tuple[Adapter, Hint]]:
    """Each adapter's hint on ``listener``, strongest first. A hint source that fails is no hint:
    it must never break a scan or a command."""
    hints = []
    for adapter in adapters:
        try:
            hint = adapter.hints(listener)
        except Exception:
            hint = None
        if hint is not None:
            hints.append((adapter, hint))
    hints.sort(key=lambda ah: -Hint._ORDER.get(ah[1].strength, 0))
    return hints


def gather(
    listeners: list[Listener], adapters: tuple[Adapter, ...], *, defaults: bool = True
) -> list[Candidate]:
    """Listed sockets, plus adapters' file-named ports and (``defaults``) their default ports, each
    with its hints. The files are those of the machine :func:`tether.hostfiles.current` names."""
    pool = list(listeners)
    for adapter in adapters:
        try:
            pool.extend(adapter.extra_listeners(listeners))
        except Exception:  # a hint source must never break a scan
            pass
    merged: list[Listener] = []
    by_port: dict[int, list[Listener]] = {}  # merged listeners by port: hundreds of listeners, no n²
    for item in pool:
        have = next(
            (
                li
                for li in by_port.get(item.port, ())
                if li.pid == item.pid or item.pid is None or li.pid is None
            ),
            None,
        )
        if have is not None:
            if have.pid is None and item.pid is not None:
                have.pid, have.process, have.cmdline = item.pid, item.process, item.cmdline
            if item.source == "file" and have.source != "file":
                have.note = (have.note + "; " if have.note else "") + (
                    item.note or "named in a file the app wrote"
                )
            continue
        merged.append(item)
        by_port.setdefault(item.port, []).append(item)
    listed_ports = {li.port for li in merged}
    for adapter in adapters if defaults else ():
        for port in adapter.default_ports:
            if port not in listed_ports:
                merged.append(Listener(host="127.0.0.1", port=port, source="default-port"))
                listed_ports.add(port)
    out = [Candidate(item, hints_for(item, adapters)) for item in merged]
    return out


def claimed_elsewhere(adapter: Adapter, hints: list[tuple[Adapter, Hint]]) -> tuple[Adapter, Hint] | None:
    """The other adapter whose process or file hint outranks ``adapter``'s own hint on a
    listener, if any: ``adapter``'s active probe must not run there (nmap's rule — an active
    probe may have side effects; IGV raises its window for any HTTP request on its port)."""
    own = [Hint._ORDER.get(h.strength, 0) for a, h in hints if a.name == adapter.name]
    own_rank = max(own) if own else -1
    for other, hint in hints:
        if other.name == adapter.name or hint.strength not in ("process", "file"):
            continue
        if Hint._ORDER.get(hint.strength, 0) > own_rank:
            return other, hint
    return None


def safe_probe(adapter: Adapter, host: str, port: int, timeout: float) -> ProbeResult:
    try:
        return adapter.probe(host, port, timeout)
    except Exception as exc:  # the contract says probes never raise; a bug must not break a scan
        return ProbeResult(Verdict.UNKNOWN, detail=f"probe failed: {type(exc).__name__}: {exc}")


def read_banner(host: str, port: int, timeout: float) -> bytes | None:
    """nmap's NULL probe: connect, send nothing, return what arrives (b"" on close), None if nothing could."""
    from .transport.tcp import create_connection

    try:
        sock = create_connection(host, port, timeout)
    except OSError:
        return None
    try:
        sock.settimeout(timeout)
        try:
            return sock.recv(BANNER_BYTES)
        except OSError:
            return None
    finally:
        sock.close()


def _endpoint(
    listener: Listener, adapter: Adapter | None, result: ProbeResult | None, confidence: Confidence, why: str
) -> Endpoint:
    parts: list[str] = []
    for p in (why, result.detail if result else "", listener.note or ""):
        if p and not any(p in have for have in parts):
            parts.append(p)
    detail = "; ".join(parts)
    version = result.version if result else None
    if version is None and adapter is not None and confidence in (Confidence.VERIFIED, Confidence.BUSY):
        try:
            version = adapter.version_hint(listener)
        except Exception:
            version = None
    return Endpoint(
        app=adapter.name if adapter else None,
        title=((result.title if result else None) or adapter.title) if adapter else None,
        version=version,
        host=listener.host,
        port=listener.port,
        bind=listener.bind,
        pid=listener.pid,
        process=listener.process,
        confidence=confidence,
        detail=detail,
        cmdline=listener.cmdline,
        extra=dict(result.extra) if result else {},
    )


def _identify_one(
    cand: Candidate, timeout: float, probe: bool, deep: bool, adapters: tuple[Adapter, ...]
) -> Endpoint | None:
    listener = cand.listener
    if not cand.hints:
        if deep and listener.source == "listing":
            data = read_banner(listener.host, listener.port, min(timeout, 0.5))
            for adapter in adapters:
                res = adapter.banner(data) if data else None
                if res is not None and res.verdict == Verdict.VERIFIED:
                    return _endpoint(
                        listener, adapter, res, Confidence.VERIFIED, "banner matched (deep scan)"
                    )
        return (
            _endpoint(listener, None, None, Confidence.UNKNOWN, "") if listener.source == "listing" else None
        )

    reasons = lambda h: f"hint: {h.reason}"  # noqa: E731
    if not probe:
        adapter, hint = cand.hints[0]
        if listener.source == "default-port":
            return None  # a default port that was not even listed, and we may not look: nothing to say
        return _endpoint(listener, adapter, None, Confidence.HINTED, reasons(hint) + " (not probed)")

    fallback: Endpoint | None = None
    for adapter, hint in cand.hints:
        if claimed_elsewhere(adapter, cand.hints):
            continue  # another app's process/file evidence: this adapter's probe stays away
        res = safe_probe(adapter, listener.host, listener.port, timeout)
        if res.verdict == Verdict.VERIFIED:
            return _endpoint(listener, adapter, res, Confidence.VERIFIED, reasons(hint))
        if res.verdict == Verdict.BUSY:
            return _endpoint(listener, adapter, res, Confidence.BUSY, reasons(hint))
        if res.verdict == Verdict.UNREACHABLE:
            if listener.source in ("default-port", "file") and not listener.pid:
                return None  # nothing there (a stale file, a free default port)
            fallback = fallback or _endpoint(listener, adapter, res, Confidence.HINTED, reasons(hint))
        elif res.verdict == Verdict.UNKNOWN:
            fallback = fallback or _endpoint(listener, adapter, res, Confidence.HINTED, reasons(hint))
        elif res.verdict == Verdict.NOT_ME and fallback is None and listener.source == "listing":
            fallback = _endpoint(listener, None, res, Confidence.UNKNOWN, f"not {adapter.title}")
    if fallback is None and listener.source == "listing":
        return _endpoint(listener, None, None, Confidence.UNKNOWN, "")
    return fallback


def identify(
    candidates: list[Candidate],
    adapters: tuple[Adapter, ...],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    probe: bool = True,
    deep: bool = False,
    workers: int = 16,
    unknown: bool = True,
) -> list[Endpoint]:
    """Probe hinted candidates in parallel; return an endpoint per candidate worth reporting.

    Only what sends or reads something goes to the thread pool (a hinted candidate when
    probing, every listed one when ``deep``): a machine's hundreds of unclaimed listeners are
    reported inline, a lone probe runs in the caller's thread, and the pool is made once per
    process and kept for the next scan. ``unknown=False``: the listeners no adapter hints at
    are not reported at all (a scan without ``--all`` drops them: no need to build them).
    """
    if not candidates:
        return []
    files = hostfiles.current()  # the probe threads read the same machine's files (version hints)
    one = lambda c: hostfiles.within(files, _identify_one, c, timeout, probe, deep, adapters)  # noqa: E731
    results: list[Endpoint | None] = [None] * len(candidates)
    remote = [i for i, c in enumerate(candidates) if (c.hints and probe) or (deep and not c.hints)]
    # the probes go out first; the inline reports are made while they are on the wire
    pending = _pool(workers).submit(one, [candidates[i] for i in remote]) if len(remote) > 1 else None
    for i, cand in enumerate(candidates):
        if not ((cand.hints and probe) or (deep and not cand.hints)) and (unknown or cand.hints):
            results[i] = one(cand)
    if len(remote) == 1:
        results[remote[0]] = one(candidates[remote[0]])
    elif pending is not None:
        for i, res in zip(remote, pending(), strict=True):
            results[i] = res
    return [r for r in results if r is not None]


class _Pool:
    """A few daemon threads taking ``(fn, item, slot)`` from a queue: a parallel map without
    ``concurrent.futures`` (which imports ``logging`` and ``string``: milliseconds of every
    ``tether scan``). Threads start as work needs them, up to ``workers``, and stay for the
    next scan."""

    def __init__(self, workers: int) -> None:
        import queue

        self.workers = workers
        self.tasks: Any = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def _run(self) -> None:
        while True:
            fn, item, done, out, index = self.tasks.get()
            try:
                out[index] = (True, fn(item))
            except BaseException as exc:  # handed back to the caller, raised there
                out[index] = (False, exc)
            done.release()

    def map(self, fn: Any, items: list) -> list:
        return self.submit(fn, items)()

    def submit(self, fn: Any, items: list) -> Any:
        """Start ``fn`` on every item; the returned function waits and gives the results (in
        order), raising what ``fn`` raised."""
        out: list[Any] = [None] * len(items)
        done = threading.Semaphore(0)
        with self.lock:
            while len(self.threads) < min(self.workers, len(items)):
                t = threading.Thread(target=self._run, name="tether-probe", daemon=True)
                self.threads.append(t)
                t.start()
        for index, item in enumerate(items):
            self.tasks.put((fn, item, done, out, index))

        def results() -> list:
            for _ in items:
                done.acquire()
            values = []
            for ok, value in out:
                if not ok:
                    raise value
                values.append(value)
            return values

        return results


_POOLS: dict[tuple[int, int], _Pool] = {}
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> _Pool:
    """The process's pool of ``workers`` probe threads, made at first use and kept: a scan a
    second in ``scan --watch`` or a notebook does not start sixteen threads each time. Per
    process: a forked child has none of its parent's threads."""
    import os

    key = (os.getpid(), workers)
    with _POOL_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = _Pool(workers)
        return pool
