"""``tether scan`` of 16 hosts beside the scan of one, in the same run: the fleet goal of issue 25.

    .venv/bin/python benchmarks/fleet.py [--hosts 16] [--rounds 7] [--parallel 16] [--json FILE]

Starts a throwaway OpenSSH server (as root: it logs in as root) on a free loopback port with
throwaway keys, as the ``sshd`` fixture of tests/real/conftest.py does, and writes a private
ssh_config naming it ``--hosts`` times (``Host fleet-01`` … each its own name, so each gets its
own ControlMaster, its own connection and its own remote scan). Then it times, in interleaved
rounds (the order alternates):

- ``tether scan --json --host ssh://fleet-01`` (one host),
- ``tether scan --json --host ssh://fleet-01 … --host ssh://fleet-16`` (the fleet),

each **cold** (every ControlMaster closed before the command: connection, authentication and
the remote scan all counted) and **warm** (the masters up from the command before, as within
``$TETHER_SSH_PERSIST`` seconds of a previous command). The remote side runs this tree's
``tether scan --json`` (``TETHER_SSH_REMOTE_TETHER=1``, the default when tether is installed
there) or, with ``--fallback``, the standard tools (ss, /proc) with probes through forwards.
Every fleet run's output is checked: one row set per host and no error (a benchmark of a failing
command measures nothing). Prints medians, the ratio fleet / one (goal: <= 2x), and the load.

All 16 "hosts" are this machine: their sshd sessions and remote scans share its cores, which a
real fleet's machines do not — the ratio here is the harder case. A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SSHD = "/usr/sbin/sshd"

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "adapters")])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def start_sshd(d: Path) -> tuple[subprocess.Popen, int]:
    """A throwaway sshd on a free loopback port; the remote shell finds this tree's tether."""
    for name in ("hostkey", "clientkey"):
        keygen(d / name)
    (d / "authorized_keys").write_text((d / "clientkey.pub").read_text())
    port = free_port()
    bindir = d / "bin"  # `tether` on the remote PATH: this tree's code, this Python
    bindir.mkdir()
    (bindir / "tether").write_text(
        f'#!/bin/sh\nPYTHONPATH={ENV["PYTHONPATH"]} exec {sys.executable} -m tether "$@"\n'
    )
    (bindir / "tether").chmod(0o755)
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nHostKey {d / 'hostkey'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        f"AllowTcpForwarding yes\nMaxStartups 100\nMaxSessions 100\n"
        f"SetEnv PATH={bindir}:/usr/local/bin:/usr/bin:/bin\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [SSHD, "-D", "-f", str(d / "sshd_config"), "-p", str(port), "-E", str(d / "sshd.log")],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("sshd did not start (see sshd.log)")


def write_config(d: Path, port: int, names: list[str]) -> Path:
    host_pub = " ".join((d / "hostkey.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    config = d / "ssh_config"
    config.write_text(
        f"Host {' '.join(names)}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
        "  IdentitiesOnly yes\n  IdentityAgent none\n  StrictHostKeyChecking yes\n"
        f"  UserKnownHostsFile {d / 'known_hosts'}\n  IdentityFile {d / 'clientkey'}\n"
    )
    return config


def run(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    return time.perf_counter() - started, proc


def close_masters(urls: list[str], env: dict) -> None:
    code = "import sys; from tether.ssh import Ssh\nfor u in sys.argv[1:]: Ssh(u).close()"
    subprocess.run([sys.executable, "-c", code, *urls], env=env, check=False, capture_output=True)


def children_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s reaped children (the sshd's: every connection and its sessions,
    the remote scans included, once the connection ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def check(proc: subprocess.CompletedProcess) -> None:
    """The scan worked on every host: exit 0 and no host's error row (a host without an app of
    tether's has no row: these hosts run none unless ``--with-igv``)."""
    if proc.returncode != 0:
        raise SystemExit(
            f"the fleet scan failed ({proc.returncode}): {proc.stdout[-400:]} {proc.stderr[-400:]}"
        )
    errors = [r for r in json.loads(proc.stdout) if r.get("error")]
    if errors:
        raise SystemExit(f"the fleet scan failed on hosts: {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--fallback", action="store_true", help="ss and /proc on the host, not its tether")
    parser.add_argument("--json", help="write the medians here")
    args = parser.parse_args()
    if os.geteuid() != 0 or not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
        raise SystemExit("needs root and OpenSSH (server and ssh-keygen)")
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    compileall.compile_dir(str(ROOT / "adapters"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="tether-fleet-") as tmp:
        d = Path(tmp)
        sshd, port = start_sshd(d)
        try:
            names = [f"fleet-{i:02d}" for i in range(1, args.hosts + 1)]
            urls = [f"ssh://{n}" for n in names]
            env = {
                **ENV,
                "TETHER_SSH_CONFIG": str(write_config(d, port, names)),
                "TETHER_SSH_PERSIST": "60",
                "TETHER_STATE_DIR": str(d / "state"),
                "TETHER_SSH_REMOTE_TETHER": "0" if args.fallback else "1",
            }
            base = [sys.executable, "-m", "tether", "scan", "--json"]
            one = [*base, "--host", urls[0]]
            many = [*base, "--parallel", str(args.parallel), *(w for u in urls for w in ("--host", u))]
            check(run(many, env)[1])  # warms the page cache, and proves the command works
            times: dict[str, list[float]] = {
                k: [] for k in ("one cold", "fleet cold", "one warm", "fleet warm")
            }
            host_cpu = {"one": 0.0, "fleet": 0.0}  # the "hosts'" side: sshd sessions, remote scans
            for r in range(args.rounds):
                order = [("one", one), ("fleet", many)]
                for label, argv in order if r % 2 == 0 else order[::-1]:
                    close_masters(urls, env)
                    before = children_cpu(sshd.pid)
                    took, proc = run(argv, env)
                    check(proc)
                    times[f"{label} cold"].append(took)
                    took, proc = run(argv, env)  # the masters are up now
                    check(proc)
                    times[f"{label} warm"].append(took)
                    close_masters(urls, env)  # the connections end: sshd reaps them, their CPU counted
                    host_cpu[label] += children_cpu(sshd.pid) - before
            close_masters(urls, env)
        finally:
            sshd.terminate()
            try:
                sshd.wait(5)
            except subprocess.TimeoutExpired:
                sshd.kill()
    med = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()
    how = "standard tools + forwards" if args.fallback else "tether on the host"
    print(f"tether scan over ssh ({how}), {args.hosts} host names on one loopback sshd, {args.rounds} rounds")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    print(f"{'':12} {'1 host':>10} {f'{args.hosts} hosts':>10} {'ratio':>7}  goal")
    for kind in ("cold", "warm"):
        a, b = med[f"one {kind}"], med[f"fleet {kind}"]
        print(f"{kind:12} {a * 1000:8.0f} ms {b * 1000:8.0f} ms {b / a:6.2f}x  <= 2x")
    per = {k: v / (2 * args.rounds) for k, v in host_cpu.items()}  # a cold and a warm scan per round
    cores = os.cpu_count() or 1
    print(
        f"CPU on the hosts' side (sshd, the remote scans) per scan: 1 host {per['one'] * 1000:.0f} ms,"
        f" {args.hosts} hosts {per['fleet'] * 1000:.0f} ms: on this machine's {cores} cores alone that is"
        f" >= {per['fleet'] / cores * 1000:.0f} ms of the fleet's wall time, which {args.hosts} real machines"
        " would spend each on its own"
    )
    if args.json:
        figures = {"medians_s": med, "host_cpu_per_scan_s": per, "load": load, "hosts": args.hosts}
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
