"""tether.ssh without a network: ssh:// URLs, the ssh command line, error mapping, remote listings."""

from __future__ import annotations

import pytest

from tether.errors import AuthError, Timeout, Unreachable, UsageError
from tether.ssh import Ssh, SshHost, failure, is_ssh, parse_listing


@pytest.mark.parametrize(
    "url, host, user, port",
    [
        ("ssh://lab-ws", "lab-ws", None, None),
        ("ssh://me@lab-ws:2222", "lab-ws", "me", 2222),
        ("ssh://root@127.0.0.1:40022/", "127.0.0.1", "root", 40022),
        ("ssh://me@[::1]:22", "::1", "me", 22),
    ],
)
def test_ssh_urls_parse(url, host, user, port):
    parsed = SshHost.parse(url)
    assert (parsed.host, parsed.user, parsed.port) == (host, user, port)
    assert is_ssh(url) and SshHost.parse(parsed.url) == parsed


@pytest.mark.parametrize(
    "url", ["ssh://", "ssh://a b", "ssh://-oProxyCommand=x", "ssh://h:99999", "ssh://u@h:p"]
)
def test_bad_ssh_urls_are_refused(url):
    with pytest.raises(UsageError):
        SshHost.parse(url)


def test_the_ssh_command_is_batch_mode_through_one_control_master(tmp_path, monkeypatch):
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host *\n")
    monkeypatch.setenv("TETHER_SSH_CONFIG", str(cfg))
    monkeypatch.setenv("TETHER_SSH_PERSIST", "7")
    argv = Ssh("ssh://me@lab:2222", timeout=2.5).argv("-O", "check")
    assert argv[1:3] == ["-F", str(cfg)]
    for option in ("BatchMode=yes", "ConnectTimeout=3", "ControlMaster=auto", "ControlPersist=7"):
        assert option in argv
    assert argv[-6:] == ["-l", "me", "-O", "check", "--", "lab"] and "2222" in argv
    assert Ssh("ssh://me@lab:2222").control == Ssh("ssh://me@lab:2222").control  # reused per host


def test_a_missing_config_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TETHER_SSH_CONFIG", str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="does not exist"):
        Ssh("ssh://lab")


@pytest.mark.parametrize(
    "stderr, kind, code",
    [
        ("root@h: Permission denied (publickey).", AuthError, 5),
        ("Host key verification failed.", AuthError, 5),
        ("ssh: connect to host h port 22: Connection refused", Unreachable, 4),
        ("Connection timed out during banner exchange", Timeout, 4),
        ("ssh: Could not resolve hostname nowhere: Name or service not known", Unreachable, 4),
    ],
)
def test_ssh_failures_map_to_exit_codes(stderr, kind, code):
    err = failure(SshHost.parse("ssh://h"), stderr)
    assert type(err) is kind and err.exit_code == code and stderr.strip().rstrip(".") in err.message


SS = """#ss
LISTEN 0      50     127.0.0.1:41957      0.0.0.0:*    users:(("start-bluesky-h",pid=516,fd=7))
LISTEN 0      50             *:50425            *:*    users:(("java",pid=30113,fd=42))
LISTEN 0      128    [::1]:631          [::]:*
#pid 516 root start-bluesky-h
/usr/bin/python\x1f/usr/bin/start-bluesky-httpserver\x1f--port\x1f41957\x1f
#pid 30113 igvuser java
/usr/bin/java\x1f-cp\x1f/usr/share/java/igv.jar\x1forg.broad.igv.ui.Main\x1f
#end
"""


def test_ss_listing_gives_listeners_with_processes():
    listeners, method = parse_listing(SS)
    assert method == "ss -Htlnp"
    by_port = {li.port: li for li in listeners}
    qs, igv, cups = by_port[41957], by_port[50425], by_port[631]
    assert (qs.host, qs.pid, qs.process, qs.username) == ("127.0.0.1", 516, "start-bluesky-h", "root")
    assert qs.cmdline == ["/usr/bin/python", "/usr/bin/start-bluesky-httpserver", "--port", "41957"]
    assert (igv.host, igv.bind, igv.pid, igv.cmdline[-1]) == (
        "127.0.0.1",
        "::",
        30113,
        "org.broad.igv.ui.Main",
    )
    assert (cups.host, cups.pid, cups.family) == ("::1", None, "ipv6") and cups.note


PROCNET = """#procnet
0100007F:A3E5 123456
00000000000000000000000000000000:C4F9 777
#inodes
/proc/516/fd socket:[123456]
#pid 516 root start-bluesky-h
start-bluesky-httpserver\x1f
#end
"""


def test_proc_net_listing_without_ss():
    listeners, method = parse_listing(PROCNET)
    assert method == "/proc/net/tcp"
    by_port = {li.port: li for li in listeners}
    assert by_port[0xA3E5].host == "127.0.0.1" and by_port[0xA3E5].pid == 516
    assert by_port[0xC4F9].bind == "::" and by_port[0xC4F9].pid is None
