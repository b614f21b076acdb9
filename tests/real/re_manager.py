"""A RE Manager with **no** HTTP server, for the 0MQ door's tests and benchmark: redis-server +
``start-re-manager`` on free ports (control, info), optionally with an encrypted control socket,
waited for with pyzmq's own REQ socket (not tether's), stopped by pid (process group).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import apps


@dataclass
class REManagerApp:
    control: str  # tcp://127.0.0.1:PORT
    info: str
    control_port: int
    info_port: int
    workdir: Path
    redis: apps.Proc = field(repr=False)
    manager: apps.Proc = field(repr=False)
    public_key: str | None = None  # set when the control socket is encrypted

    @property
    def pid(self) -> int:
        return self.manager.pid

    def request(self, method: str, params: dict | None = None, timeout: float = 5.0) -> dict:
        """One raw request with pyzmq (behind tether's back); a fresh socket each time."""
        return zmq_request(self.control, method, params, timeout=timeout, public_key=self.public_key)

    def alive(self) -> bool:
        return self.manager.alive() and self.redis.alive()

    def stop(self) -> None:
        for proc in (self.manager, self.redis):
            proc.stop(grace=10)


def zmq_request(
    address: str,
    method: str,
    params: dict | None = None,
    *,
    timeout: float = 5.0,
    public_key: str | None = None,
) -> dict:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    if public_key:
        pub, sec = zmq.curve_keypair()
        sock.setsockopt(zmq.CURVE_SERVERKEY, public_key.encode())
        sock.setsockopt(zmq.CURVE_PUBLICKEY, pub)
        sock.setsockopt(zmq.CURVE_SECRETKEY, sec)
    try:
        sock.connect(address)
        sock.send_json({"method": method, "params": params or {}})
        if not sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no reply to {method} from {address}")
        return json.loads(sock.recv())
    finally:
        sock.close(linger=0)
        ctx.term()


def make_keys() -> tuple[str, str]:
    """(public, private) from ``qserver-zmq-keys``, the tool the queue server ships."""
    out = subprocess.run(
        [apps.venv_bin("qserver-zmq-keys")], capture_output=True, text=True, timeout=30
    ).stdout
    keys = dict(re.findall(r"(Public|Private) key \([^)]*\):\s+(\S{40})", out))
    if len(keys) != 2:
        raise apps.AppFailed(f"qserver-zmq-keys printed no key pair:\n{out}")
    return keys["Public"], keys["Private"]


def start_re_manager(
    workdir: Path, *, encrypted: bool = False, timeout: float = 90, attempts: int = 3
) -> REManagerApp:
    """redis + RE Manager (console published), no HTTP server; retried on new ports on a collision."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(workdir / f"try{attempt}", encrypted, timeout)
        except apps.AppFailed as exc:
            if attempt == attempts or not apps._port_collision(str(exc)):
                raise
    raise AssertionError("unreachable")


def _start_once(workdir: Path, encrypted: bool, timeout: float) -> REManagerApp:
    redis_bin = apps.need_binary("redis-server", "redis-server")
    manager_bin = apps.venv_bin("start-re-manager")
    workdir.mkdir(parents=True, exist_ok=True)
    redis_port, control_port, info_port = apps.free_ports(3)
    redis = apps.spawn(
        "redis",
        [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        workdir / "redis.log",
    )  # fmt: skip
    procs = [redis]
    try:
        apps.wait_for("redis", lambda: apps._redis_ping(redis_port), 20, redis)
        control, info = f"tcp://127.0.0.1:{control_port}", f"tcp://127.0.0.1:{info_port}"
        env, public = {}, None
        if encrypted:
            public, private = make_keys()
            env["QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER"] = private
        manager = apps.spawn(
            "RE Manager",
            [manager_bin, "--redis-addr", f"127.0.0.1:{redis_port}",
             "--redis-name-prefix", f"tether_zmq_{secrets.token_hex(4)}",
             "--zmq-control-addr", control, "--zmq-info-addr", info, "--zmq-publish-console", "ON"],
            workdir / "re-manager.log",
            env=env,
            cwd=workdir,
        )  # fmt: skip
        procs.append(manager)
        app = REManagerApp(control, info, control_port, info_port, workdir, redis, manager, public)

        def ready():
            if not manager.alive():
                raise apps.AppFailed(f"RE Manager exited:\n{apps.log_tail(manager.log)}")
            try:
                return app.request("status", timeout=1.0).get("manager_state") == "idle"
            except TimeoutError:
                return False

        apps.wait_for("RE Manager's 0MQ control socket (status idle)", ready, timeout, manager, 0.25)
        return app
    except BaseException:
        for proc in reversed(procs):
            proc.stop(grace=5)
        raise
