"""An example third-party adapter: redis-server, proved by ``PING`` → ``+PONG``."""

from __future__ import annotations

import typer

from tether.adapter import NOT_ME, UNKNOWN, VERIFIED, Adapter, Hint, ProbeResult, connect_failed
from tether.cli import render
from tether.cli.common import HostOpt, JsonOpt, PortOpt, TimeoutOpt, find_endpoint, status_command
from tether.errors import CommandError, TetherError, Timeout, Unreachable
from tether.transport.line import LineConnection
from tether.transport.tcp import Deadline


def ping(host: str, port: int, timeout: float) -> str:
    """One ``PING`` on a fresh connection; the reply line (``+PONG`` from redis)."""
    with LineConnection.open(host, port, timeout, what="redis") as conn:
        deadline = Deadline(timeout)
        conn.send_line("PING", deadline)
        reply = conn.readline(deadline)
    if reply is None:
        raise Unreachable("redis closed the connection without a reply")
    return reply


class RedisAdapter(Adapter):
    name, title, default_ports = "redis", "Redis", (6379,)
    description = "Example third-party adapter: find redis-server and PING it."

    def hints(self, listener):
        if "redis-server" in (listener.process or "") or any(
            "redis-server" in a for a in listener.cmdline[:1]
        ):
            return Hint("redis-server process", "process")
        return super().hints(listener)

    def probe(self, host, port, timeout):
        try:
            reply = ping(host, port, timeout)
        except Timeout:
            return ProbeResult(UNKNOWN, detail="no reply to PING")
        except Unreachable as exc:
            return connect_failed(exc)
        except TetherError as exc:
            return ProbeResult(UNKNOWN, detail=exc.message)
        if reply == "+PONG":
            return ProbeResult(VERIFIED, detail="answered PING")
        return ProbeResult(NOT_ME, detail=f"answered {reply[:40]!r} to PING")

    def connect(self, endpoint, **options):
        return endpoint  # a real adapter returns its client here

    def cli(self):
        app = typer.Typer(no_args_is_help=True, help=self.description)
        app.command("status")(status_command("redis"))

        @app.command("ping")
        def ping_cmd(
            host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 2.0, json_: JsonOpt = False
        ):
            """PING the redis server tether finds."""
            ep = find_endpoint("redis", host, port, timeout)
            reply = ping(ep.host, ep.port, timeout)
            if not reply.startswith("+"):
                raise CommandError("redis refused PING", app_message=reply)
            render.emit({"reply": reply, "port": ep.port}, as_json=json_, text=reply)

        return app
