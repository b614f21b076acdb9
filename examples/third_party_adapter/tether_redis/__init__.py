"""An example third-party adapter: redis-server, proved by ``PING`` → ``+PONG``."""

from __future__ import annotations

from tether.adapter import Adapter, Hint, ProbeResult, Setting, Verdict, connect_failed
from tether.deadline import Deadline
from tether.errors import CommandError, TetherError, Timeout, Unreachable
from tether.transport.line import LineConnection


def ping(host: str, port: int, deadline: Deadline) -> str:
    """One ``PING`` on a fresh connection; the reply line (``+PONG`` from redis). ``deadline``
    is started by the caller before connecting: the connect, the send and the read share it."""
    with LineConnection.open(host, port, deadline, what="redis") as conn:
        conn.send_line("PING", deadline)
        reply = conn.readline(deadline)
    if reply is None:
        raise Unreachable("redis closed the connection without a reply")
    return reply


class RedisClient:
    """The adapter's client: what ``tether.connect("redis")`` returns."""

    def __init__(self, host: str, port: int, *, timeout: float | None = None, password: str | None = None):
        self.host, self.port, self.timeout = host, port, timeout or 2.0
        self._password = password

    @property
    def secrets(self) -> list[str]:
        """What ``-v`` output must mask."""
        return [self._password] if self._password else []

    def ping(self) -> str:
        """``PING`` (after ``AUTH`` when a password is set); the reply, or CommandError."""
        deadline = Deadline(self.timeout)  # one budget for the call, the connect included
        with LineConnection.open(self.host, self.port, deadline, what="redis") as conn:
            if self._password:
                conn.send_line(f"AUTH {self._password}", deadline)
                conn.readline(deadline)
            conn.send_line("PING", deadline)
            reply = conn.readline(deadline)
        if reply is None:
            raise Unreachable("redis closed the connection without a reply")
        if not reply.startswith("+"):
            raise CommandError("redis refused PING", app_message=reply)
        return reply


class RedisAdapter(Adapter):
    name, title, default_ports = "redis", "Redis", (6379,)
    description = "Example third-party adapter: find redis-server and PING it."
    settings = (Setting("password", "The server's password (AUTH).", env=("REDISCLI_AUTH",), secret=True),)

    def hints(self, listener):
        if "redis-server" in (listener.process or "") or any(
            "redis-server" in a for a in listener.cmdline[:1]
        ):
            return Hint("redis-server process", "process")
        return super().hints(listener)

    def probe(self, host, port, timeout):
        try:
            reply = ping(host, port, Deadline(timeout))
        except Timeout:
            return ProbeResult(Verdict.UNKNOWN, detail="no reply to PING")
        except Unreachable as exc:
            return connect_failed(exc)
        except TetherError as exc:
            return ProbeResult(Verdict.UNKNOWN, detail=exc.message)
        if reply == "+PONG":
            return ProbeResult(Verdict.VERIFIED, detail="answered PING")
        return ProbeResult(Verdict.NOT_ME, detail=f"answered {reply[:40]!r} to PING")

    def connect(self, endpoint, **options):
        return RedisClient(endpoint.host, endpoint.port, **options)

    def cli(self):
        from tether.cli.command import Commands, Target

        cmd = Commands(self.name, help=self.description, settings=self.settings)

        @cmd("ping", timeout=2.0)
        def ping_cmd(target: Target) -> None:
            """PING the redis server tether finds."""
            client = target.client()
            reply = client.ping()
            target.emit({"reply": reply, "port": client.port}, text=reply)

        return cmd.app
