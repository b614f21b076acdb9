"""0MQ request/reply and subscribe, with tether's deadlines, size caps and errors (pyzmq, imported lazily).

:class:`ZmqRequester` speaks to a **REP** socket (one JSON object out, one back), the way RE
Manager's control socket is driven; :class:`ZmqSubscriber` reads a **PUB** socket's multipart
messages. Wire facts they rely on (libzmq 4.3, pyzmq's documentation):

- A REQ socket is a strict send/receive state machine: after a request whose reply never came,
  it can neither send again nor be trusted to deliver a late reply to the right request. The
  requester therefore closes it (LINGER 0, so nothing queued keeps the context alive) and opens
  a fresh one for the next request. A healthy socket is kept: a new TCP connection and ZMTP
  handshake (a CURVE one when encrypted) per request would add their round trips to every call.
- ``connect`` never fails for a peer that is absent; 0MQ reconnects in the background. An absent
  or silent peer shows only as a missing reply, so every request is bounded by one
  :class:`~tether.deadline.Deadline` (poll for writability, send, poll for the reply).
- ``MAXMSGSIZE`` makes libzmq drop a peer whose message is larger than the cap before it is
  buffered: an oversized reply is never read into memory, and shows as no reply (a
  :class:`~tether.errors.Timeout` whose message names the cap).
- CURVE: the client sets ``CURVE_SERVERKEY`` (the server's 40-character z85 public key) and a key
  pair of its own (any pair: the server does not authenticate clients). A server that wants
  CURVE and a client without the key (or the reverse, or a wrong key) never complete the
  handshake: again no reply, never an error message.
- Each requester and subscriber owns its own ``zmq.Context``, terminated on :meth:`close`, so
  that no I/O thread outlives the object.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from ..deadline import Deadline
from ..errors import ProtocolError, Timeout, Unreachable, UsageError

log = logging.getLogger("tether.transport.zmq")

#: the largest reply accepted (RE Manager's biggest answers, the plan lists, are a few MB)
MAX_REPLY = 32 * 1024 * 1024
_ADDRESS = re.compile(r"^tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+|\*):(?P<port>\d{1,5})$")
_Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


def parse_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a ``tcp://HOST:PORT`` address; :class:`UsageError` for anything else."""
    m = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    port = int(m.group("port")) if m else 0
    if not m or not 0 < port < 65536:
        raise UsageError(
            f"a 0MQ address must look like tcp://HOST:PORT (e.g. tcp://127.0.0.1:60615), not {address!r}"
        )
    host = m.group("host").strip("[]")
    return ("127.0.0.1" if host in ("*", "0.0.0.0") else host), port


def client_address(address: str) -> str:
    """``address`` as a client connects to it: a wildcard bind (``*``, ``0.0.0.0``) is this machine."""
    host, port = parse_address(address)
    return f"tcp://{f'[{host}]' if ':' in host else host}:{port}"


def check_public_key(key: str) -> str:
    """The server's public key as given (40 z85 characters), or :class:`UsageError` (never echoing it)."""
    key = key.strip() if isinstance(key, str) else ""
    if not _Z85.match(key):
        raise UsageError(
            "the 0MQ public key must be 40 z85 characters (what qserver-zmq-keys prints as the public key)",
            hint="a private key is never needed by a client: give the server's public key",
        )
    return key


def _zmq() -> Any:
    try:
        import zmq
    except ImportError as exc:  # pragma: no cover - pyzmq is a dependency
        raise UsageError("0MQ needs pyzmq: pip install pyzmq") from exc
    return zmq


def _ms(deadline: Deadline) -> int:
    return max(0, int(deadline.remaining() * 1000))


class ZmqRequester:
    """Requests to a REP socket at ``address`` (``tcp://HOST:PORT``): :meth:`request` sends one
    JSON object and returns the decoded reply within one deadline.

    ``public_key``: the server's CURVE public key, for an encrypted socket; ``timeout``: the
    default deadline of a request; ``max_reply``: replies larger than this are refused.
    Errors: :class:`~tether.errors.Timeout` (no reply in time: the peer is absent, busy, or
    the encryption does not match), :class:`~tether.errors.ProtocolError` (a reply that is
    not JSON), :class:`~tether.errors.Unreachable` (0MQ itself failed).

    >>> with ZmqRequester("tcp://127.0.0.1:60615", timeout=2) as rq:    # doctest: +SKIP
    ...     rq.request({"method": "status"})["manager_state"]
    'idle'
    """

    def __init__(
        self,
        address: str,
        *,
        public_key: str | None = None,
        timeout: float = 10.0,
        max_reply: int = MAX_REPLY,
        what: str = "the app",
    ) -> None:
        self.host, self.port = parse_address(address)
        self.address = client_address(address)
        self.public_key = check_public_key(public_key) if public_key else None
        self.timeout = timeout
        self.max_reply = max_reply
        self.what = what
        self._ctx: Any = None
        self._sock: Any = None
        self._keys: tuple[bytes, bytes] | None = None
        self.sockets_opened = 0  # how many REQ sockets this requester has made (tests read it)

    # -- sockets ---------------------------------------------------------------------------
    def _socket(self) -> Any:
        if self._sock is not None:
            return self._sock
        zmq = _zmq()
        if self._ctx is None:
            self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_reply)
        if self.public_key:
            if self._keys is None:
                self._keys = zmq.curve_keypair()
            sock.setsockopt(zmq.CURVE_SERVERKEY, self.public_key.encode("ascii"))
            sock.setsockopt(zmq.CURVE_PUBLICKEY, self._keys[0])
            sock.setsockopt(zmq.CURVE_SECRETKEY, self._keys[1])
        try:
            sock.connect(self.address)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            raise UsageError(f"0MQ cannot connect to {self.address}: {exc}") from exc
        self._sock = sock
        self.sockets_opened += 1
        return sock

    def _drop_socket(self) -> None:
        """Throw the REQ socket away (it is stuck mid-request): the next request opens a fresh one."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    # -- requests ---------------------------------------------------------------------------
    def request(self, message: Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` (JSON-able) and return the decoded reply, all within ``timeout`` s."""
        zmq = _zmq()
        deadline = Deadline(self.timeout if timeout is None else timeout)
        payload = json.dumps(message).encode("utf-8")
        sock = self._socket()
        try:
            if not sock.poll(_ms(deadline), zmq.POLLOUT):
                self._drop_socket()
                raise self._timeout(deadline, "sending")
            sock.send(payload, zmq.NOBLOCK)
            if not sock.poll(_ms(deadline), zmq.POLLIN):
                self._drop_socket()
                raise self._timeout(deadline, "waiting for the reply")
            data = sock.recv(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._drop_socket()
            raise Unreachable(f"0MQ request to {self.what} at {self.address} failed: {exc}") from exc
        log.debug("0MQ %s: %d bytes sent, %d received", self.address, len(payload), len(data))
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"{self.what} at {self.address} sent a reply that is not JSON") from exc

    def _timeout(self, deadline: Deadline, doing: str) -> Timeout:
        cap = self.max_reply
        size = f"{cap // (1024 * 1024)} MiB" if cap >= 1024 * 1024 else f"{cap} bytes"
        why = f"the server is absent or busy, its reply exceeded {size}, or the encryption does not match"
        return Timeout(
            f"no answer from {self.what} at {self.address} within {deadline.seconds:g} s ({doing}): {why}",
            host=self.host,
            port=self.port,
        )

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the socket (LINGER 0) and terminate the context: no 0MQ thread is left."""
        self._drop_socket()
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self) -> ZmqRequester:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten requester still releases its context
        try:
            self.close()
        except Exception:
            pass


class ZmqSubscriber:
    """A SUB socket on ``address`` subscribed to ``topic``; :meth:`recv` returns ``(topic,
    payload)`` of the next message, or raises :class:`~tether.errors.Timeout`.

    A PUB socket drops what is published before the subscription reaches it (0MQ's "slow
    joiner"): open the subscriber before the events to be seen.
    """

    def __init__(
        self, address: str, topic: bytes, *, max_message: int = MAX_REPLY, what: str = "the app"
    ) -> None:
        zmq = _zmq()
        self.host, self.port = parse_address(address)
        self.address = client_address(address)
        self.what = what
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, max_message)
        self._sock.setsockopt(zmq.SUBSCRIBE, topic)
        try:
            self._sock.connect(self.address)
        except zmq.ZMQError as exc:
            self.close()
            raise UsageError(f"0MQ cannot connect to {self.address}: {exc}") from exc

    def recv(self, timeout: float) -> tuple[bytes, bytes]:
        """The next message's topic and last frame, waiting at most ``timeout`` s."""
        zmq = _zmq()
        if not self._sock.poll(max(0, int(timeout * 1000)), zmq.POLLIN):
            raise Timeout(f"nothing published by {self.what} at {self.address} within {timeout:g} s")
        try:
            frames = self._sock.recv_multipart(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            raise Unreachable(f"reading {self.what}'s 0MQ messages at {self.address} failed: {exc}") from exc
        return frames[0], frames[-1]

    def close(self) -> None:
        """Close the socket (LINGER 0) and terminate the context."""
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self) -> ZmqSubscriber:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = [
    "MAX_REPLY",
    "ZmqRequester",
    "ZmqSubscriber",
    "check_public_key",
    "client_address",
    "parse_address",
]
