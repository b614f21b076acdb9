"""Fixtures of the real-app tests beside the session's apps (``igv_app``, ``firefox_app`` and
``qserver_app`` live in tests/conftest.py, so that tests/faults shares the very same instances):
a BiDi Firefox of a test's own, the OpenSSH server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _unavailable, require_real  # noqa: F401  (imported from here by the real tests)

from . import apps

pytestmark = pytest.mark.real


def pytest_collection_modifyitems(session, config, items):
    """The geckodriver tests run first, before any other test starts a Firefox: one of them
    checks that a command with no port finds the busy, geckodriver-held Firefox, which is only
    what "no port" means while no free Firefox answers beside it."""
    first = [i for i in items if i.nodeid.startswith("tests/real/test_firefox_geckodriver.py")]
    if first:
        items[:] = first + [i for i in items if i not in first]


@contextlib.contextmanager
def launched_bidi_firefox(state: Path) -> Iterator:
    """A Firefox launched by tether with the Remote Agent (WebDriver BiDi: contexts, the console and
    the network need it), its launch record in ``state`` ($TETHER_STATE_DIR meanwhile), quit at the
    end of the block — killed by its process group if quitting fails."""
    import signal

    import psutil

    from tether_firefox import launch_firefox, quit_firefox

    old = os.environ.get("TETHER_STATE_DIR")
    os.environ["TETHER_STATE_DIR"] = str(state)
    try:
        rec = launch_firefox(headless=True, bidi=True, timeout=60)
        try:
            yield rec
        finally:
            try:
                quit_firefox(port=rec.port, timeout=10)
            finally:
                if psutil.pid_exists(rec.pid):
                    os.killpg(rec.pid, signal.SIGKILL)
    finally:
        if old is None:
            os.environ.pop("TETHER_STATE_DIR", None)
        else:
            os.environ["TETHER_STATE_DIR"] = old


@pytest.fixture
def bidi_firefox(tmp_path):
    """A Firefox of the test's own, launched by tether with the Remote Agent, quit after the test."""
    with launched_bidi_firefox(tmp_path / "state") as rec:
        yield rec


# ----------------------------------------------------------------------------- the OpenSSH server
SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    pid: int
    log: Path
    config: Path  # the client's ssh_config ($TETHER_SSH_CONFIG)
    dir: Path

    @property
    def url(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on a free loopback port (see tests/real/test_ssh.py): a throwaway
    host key, an authorized key made for the test, DEBUG logs where the forwarded channels show.
    Stopped by pid when the session ends."""
    if not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
        _unavailable(
            "OpenSSH server", apps.AppMissing("sshd is not installed (Debian package openssh-server)")
        )
    if os.geteuid() != 0:
        _unavailable(
            "OpenSSH server", apps.AppMissing("the test sshd logs in as root: run the tests as root")
        )
    d = tmp_path_factory.mktemp("sshd")
    for name in ("hostkey", "clientkey", "wrongkey"):
        _keygen(d / name)
    (d / "authorized_keys").write_text((d / "clientkey.pub").read_text())
    port = apps.free_port()
    venv_bin = Path(sys.executable).parent  # so that the remote shell finds this tether
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nHostKey {d / 'hostkey'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"AllowTcpForwarding yes\nSetEnv PATH={venv_bin}:/usr/local/bin:/usr/bin:/bin\n"
    )
    host_pub = " ".join((d / "hostkey.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    client = (
        "Host 127.0.0.1\n  IdentitiesOnly yes\n  IdentityAgent none\n  StrictHostKeyChecking yes\n"
        f"  UserKnownHostsFile {d / 'known_hosts'}\n"
    )
    (d / "ssh_config").write_text(client + f"  IdentityFile {d / 'clientkey'}\n")
    (d / "wrong_config").write_text(client + f"  IdentityFile {d / 'wrongkey'}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    log = d / "sshd.log"
    proc = apps.spawn(
        "sshd",
        [SSHD, "-D", "-f", str(d / "sshd_config"), "-p", str(port), "-E", str(log), "-o", "LogLevel=DEBUG"],
        d / "sshd.out",
    )
    try:

        def banner():
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                return s.recv(64).startswith(b"SSH-2.0")

        apps.wait_for("sshd's banner", banner, 15, proc)
        yield Sshd(port, proc.pid, log, d / "ssh_config", d)
    finally:
        proc.stop()
