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
  handshake and never send an error message; the socket's **monitor** tells: a mechanism
  mismatch (``EVENT_HANDSHAKE_FAILED_PROTOCOL``, ``PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH``)
  or a server that hangs up on our HELLO (``EVENT_HANDSHAKE_FAILED_NO_DETAIL``, a wrong key)
  is an :class:`~tether.errors.AuthError` at once, not a wait for the deadline. A peer that
  is not 0MQ at all fails the greeting the same way (another protocol error code).
- Each requester and subscriber owns its own ``zmq.Context``, terminated on :meth:`close`, so
  that no I/O thread outlives the object.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ..deadline import Deadline
from ..errors import AuthError, ProtocolError, TetherError, Timeout, Unreachable, UsageError
from .tcp import create_connection

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


#: a ZMTP 3.0 greeting offering the NULL mechanism (rfc.zeromq.org/spec/23): signature, version 3.0,
#: mechanism name padded to 20 bytes, as-server 0, 31 bytes of filler
_NULL_GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32


def peer_mechanism(host: str, port: int, timeout: float) -> bytes | None:
    """The security mechanism a 0MQ server's greeting names (``b"CURVE"``, ``b"NULL"`` …);
    ``b""`` when the peer's first bytes are not a ZMTP greeting, ``None`` when it sends none.

    Only called after a 0MQ socket has already greeted that same peer (a failed handshake).
    """
    deadline = Deadline(timeout)
    data = b""
    try:
        with create_connection(host, port, deadline.remaining(0.05)) as sock:
            sock.sendall(_NULL_GREETING[:11])  # up to our major version: the server then sends its
            # whole greeting, and judges mechanisms only once it has ours, which never comes
            while len(data) < 64 and not deadline.expired:
                sock.settimeout(deadline.remaining(0.01))
                chunk = sock.recv(64 - len(data))
                if not chunk:
                    break
                data += chunk
    except OSError:
        pass
    if not data:
        return None
    if data[:1] != b"\xff" or (len(data) >= 10 and data[9:10] != b"\x7f"):
        return b""
    return data[12:32].rstrip(b"\x00") if len(data) >= 32 else None


#: the greeting as libzmq writes it (padding ``0…01``), offering ZMTP 3.0 and the NULL mechanism
_REQ_GREETING = b"\xff" + b"\x00" * 7 + b"\x01\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32
_MORE, _LONG, _COMMAND = 0x01, 0x02, 0x04


def _frame(flags: int, body: bytes) -> bytes:
    if len(body) < 256:
        return bytes((flags, len(body))) + body
    return bytes((flags | _LONG,)) + len(body).to_bytes(8, "big") + body


def _ready(socket_type: bytes) -> bytes:
    """The NULL mechanism's READY command naming our socket type (and an empty identity)."""
    props = {b"Socket-Type": socket_type, b"Identity": b""}
    body = b"\x05READY" + b"".join(
        bytes((len(k),)) + k + len(v).to_bytes(4, "big") + v for k, v in props.items()
    )
    return _frame(_COMMAND, body)


def _properties(data: bytes) -> dict[bytes, bytes]:
    props, at = {}, 0
    while at < len(data):
        size = data[at]
        name = data[at + 1 : at + 1 + size]
        at += 1 + size
        if at + 4 > len(data):
            raise ValueError("a truncated property")
        length = int.from_bytes(data[at : at + 4], "big")
        props[name] = data[at + 4 : at + 4 + length]
        at += 4 + length
    return props


class _Wire:
    """Exact reads from a connected socket under one deadline."""

    def __init__(self, sock: Any, deadline: Deadline) -> None:
        self.sock, self.deadline, self.buf = sock, deadline, bytearray()

    def read(self, size: int) -> bytes:
        from .tcp import recv_some

        while len(self.buf) < size:
            chunk = recv_some(self.sock, self.deadline)
            if not chunk:
                raise Unreachable("the peer closed the connection during the 0MQ exchange")
            self.buf += chunk
        out = bytes(self.buf[:size])
        del self.buf[:size]
        return out

    def frame(self, cap: int) -> tuple[int, bytes]:
        flags = self.read(1)[0]
        if flags & ~(_MORE | _LONG | _COMMAND):
            raise ProtocolError("a ZMTP frame with reserved flags set")
        size = int.from_bytes(self.read(8), "big") if flags & _LONG else self.read(1)[0]
        if size > cap:
            raise ProtocolError(f"a 0MQ frame of {size} bytes, over the {cap}-byte cap")
        return flags, self.read(size)


def request_plain(
    sock: Any,
    message: Any,
    deadline: Deadline,
    *,
    max_reply: int = MAX_REPLY,
    what: str = "the app",
    address: str = "",
) -> Any:
    """One request to a REP (or ROUTER) socket over a connected TCP ``sock``, in ZMTP 3.0 with
    the NULL mechanism (no encryption): the decoded JSON reply, all within ``deadline``.

    What a one-shot request costs without pyzmq (its import, a context and its I/O thread, a
    monitor socket: ~15 ms of a ``tether scan``): the peer's greeting must be ZMTP 3 offering
    NULL (an encrypted socket is told before anything of ours but the greeting is sent), then
    our ``READY`` (socket type REQ) goes out and the peer's must name a REP or ROUTER socket;
    then the request is sent as a REQ socket frames it (an empty delimiter, the body) and the
    reply's frames are read, each under ``max_reply``. rfc.zeromq.org/spec/23.
    Errors as :class:`ZmqRequester`'s: :class:`ProtocolError` (not 0MQ, not a REP socket, not
    JSON), :class:`AuthError` (the peer wants CURVE or another mechanism), :class:`Timeout`,
    :class:`Unreachable` (the peer hung up). The socket is left to the caller to close.
    """
    from .tcp import send_all

    where = f"{what} at {address}" if address else what
    wire = _Wire(sock, deadline)
    # up to our major version first: libzmq then sends its whole greeting, and judges mechanisms
    # only once it has ours (given whole, a mismatch is a hang-up without the peer's mechanism)
    send_all(sock, _REQ_GREETING[:11], deadline)
    greeting = wire.read(11)
    if greeting[0] != 0xFF or not greeting[9] & 0x01:
        raise ProtocolError(f"{where} does not speak 0MQ's protocol (no ZMTP greeting)")
    if greeting[10] < 3:
        raise ProtocolError(f"{where} speaks ZMTP {greeting[10]}, an older 0MQ than tether speaks (3)")
    mechanism = wire.read(53)[1:21].rstrip(b"\x00")
    if mechanism == b"CURVE":
        raise AuthError(
            f"{where} closed the 0MQ handshake: it is encrypted (CURVE) and no public key was given",
            hint="give the server's public key: --zmq-public-key KEY or $QSERVER_ZMQ_PUBLIC_KEY",
        )
    if mechanism != b"NULL":
        name = mechanism.decode("ascii", "replace")[:20]
        raise AuthError(f"{where} wants the 0MQ {name} mechanism, which tether does not speak")
    send_all(sock, _REQ_GREETING[11:] + _ready(b"REQ"), deadline)
    flags, body = wire.frame(4096)
    if not flags & _COMMAND or body[:1] != b"\x05" or body[1:6] not in (b"READY", b"ERROR"):
        raise ProtocolError(f"{where} does not speak 0MQ's protocol (no READY command)")
    if body[1:6] == b"ERROR":
        reason = body[7 : 7 + body[6]].decode("utf-8", "replace") if len(body) > 6 else ""
        raise Unreachable(f"{where} refused the 0MQ handshake: {reason or 'no reason given'}")
    try:
        peer_type = _properties(body[6:]).get(b"Socket-Type", b"")
    except (ValueError, IndexError):
        raise ProtocolError(f"{where} sent a malformed READY command") from None
    if peer_type not in (b"REP", b"ROUTER"):
        kind = peer_type.decode("ascii", "replace")[:20] or "unnamed"
        raise ProtocolError(f"{where} is a 0MQ {kind} socket, not one that answers requests (REP)")
    payload = json.dumps(message).encode("utf-8")
    send_all(sock, _frame(_MORE, b"") + _frame(0, payload), deadline)
    frames: list[bytes] = []
    total = 0
    while True:
        flags, body = wire.frame(max_reply)
        if flags & _COMMAND:
            continue  # ZMTP 3.1's PING and the like: not part of the reply
        total += len(body)
        if total > max_reply:
            raise ProtocolError(f"{where} sent a reply over the {max_reply}-byte cap")
        frames.append(body)
        if not flags & _MORE:
            break
    if len(frames) < 2 or frames[0] != b"":
        raise ProtocolError(f"{where} sent a reply without a REQ envelope")
    try:
        return json.loads(frames[-1])
    except ValueError as exc:
        raise ProtocolError(f"{where} sent a reply that is not JSON") from exc


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
        self._monitor: Any = None
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
        events = (
            zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH
        )
        self._monitor = sock.get_monitor_socket(events)
        self._sock = sock
        try:
            sock.connect(self.address)
        except zmq.ZMQError as exc:
            self._drop_socket()
            raise UsageError(f"0MQ cannot connect to {self.address}: {exc}") from exc
        self.sockets_opened += 1
        return sock

    def _drop_socket(self) -> None:
        """Throw the REQ socket away (it is stuck mid-request): the next request opens a fresh one."""
        if self._sock is not None:
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._sock.close(linger=0)
            self._sock = self._monitor = None

    def _handshake_failed(self) -> TetherError:
        """The error for the handshake failure the socket's monitor reports (read at once)."""
        zmq = _zmq()
        from zmq.utils.monitor import recv_monitor_message

        event = recv_monitor_message(self._monitor)
        self._drop_socket()
        where = f"{self.what} at {self.address}"
        kind, value = event["event"], event["value"]
        mismatch = (
            kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        )
        if kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and not mismatch:
            return ProtocolError(f"{where} does not speak 0MQ's protocol (ZMTP error {value:#x})")
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return AuthError(f"{where} refused this client (0MQ authentication, status {value})")
        # A server whose mechanism is not ours hangs up; whether we first see its greeting (a
        # mechanism mismatch) or only the hang-up (no detail) is a race. A hang-up may also be a
        # wrong CURVE key, or a peer that is no 0MQ server: the server's own greeting tells.
        theirs = (
            (b"NULL" if self.public_key else b"CURVE")
            if mismatch
            else peer_mechanism(self.host, self.port, 1.0)
        )
        if theirs is None:
            return Unreachable(f"{where} closed the connection during the 0MQ handshake")
        if theirs == b"":
            return ProtocolError(f"{where} does not speak 0MQ's protocol (no ZMTP greeting)")
        if theirs == b"CURVE" and not self.public_key:
            return AuthError(
                f"{where} closed the 0MQ handshake: it is encrypted (CURVE) and no public key was given",
                hint="give the server's public key: --zmq-public-key KEY or $QSERVER_ZMQ_PUBLIC_KEY",
            )
        if theirs == b"CURVE":
            return AuthError(
                f"{where} refused the encrypted handshake: the public key is not the server's",
                hint="check the public key (--zmq-public-key, $QSERVER_ZMQ_PUBLIC_KEY)",
            )
        if self.public_key:
            return AuthError(
                f"{where} is not encrypted ({theirs.decode('ascii', 'replace')}), but a public key was given",
                hint="drop the public key (--zmq-public-key, $QSERVER_ZMQ_PUBLIC_KEY)",
            )
        return Unreachable(f"{where} closed the connection during the 0MQ handshake")

    # -- requests ---------------------------------------------------------------------------
    def request(self, message: Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` (JSON-able) and return the decoded reply, all within ``timeout`` s."""
        zmq = _zmq()
        deadline = Deadline(self.timeout if timeout is None else timeout)
        payload = json.dumps(message).encode("utf-8")
        started = time.monotonic()
        sock = self._socket()
        try:
            if not sock.poll(_ms(deadline), zmq.POLLOUT):
                self._drop_socket()
                raise self._timeout(deadline, "sending")
            sock.send(payload, zmq.NOBLOCK)
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            poller.register(self._monitor, zmq.POLLIN)
            ready = dict(poller.poll(_ms(deadline)))
            if sock not in ready and self._monitor in ready:
                raise self._handshake_failed()
            if sock not in ready:
                self._drop_socket()
                raise self._timeout(deadline, "waiting for the reply")
            data = sock.recv(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._drop_socket()
            raise Unreachable(f"0MQ request to {self.what} at {self.address} failed: {exc}") from exc
        import logging  # here, not at import: a scan's plain-ZMTP probe loads this module too

        log = logging.getLogger("tether.transport.zmq")
        if log.isEnabledFor(logging.DEBUG):  # -v: the CLI's log handler masks secrets (lock keys)
            log.debug(
                "0MQ %s %s -> %d bytes in %.1f ms",
                self.address,
                payload[:300].decode("utf-8", errors="replace"),
                len(data),
                (time.monotonic() - started) * 1000,
            )
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
