"""The files of the machine a scan looks at (tether.hostfiles): hints read them there, not here.

An in-memory machine (``Elsewhere``) stands for another host: the paths it holds do not exist on
this one, so a hint that reads this machine's files instead says something else. The same
reads over a real sshd are in tests/real/test_ssh.py.
"""

from __future__ import annotations

import os
import threading
from pathlib import PurePosixPath

import pytest

from tether import hostfiles, launched
from tether.endpoint import Listener
from tether.errors import UsageError
from tether.identify import Candidate, gather, identify
from tether_firefox import launch as ff_launch
from tether_firefox.adapter import FirefoxAdapter
from tether_firefox.probe import firefox_version
from tether_igv.adapter import IGVAdapter


class Elsewhere(hostfiles.Files):
    """Another machine: its files in a dict, its home, its symbolic links; every read logged."""

    remote = True
    where = "elsewhere"

    def __init__(
        self, files: dict[str, str], *, home: str = "/home/lab", links: dict[str, str] | None = None
    ):
        self.files, self._home, self.links = files, home, links or {}
        self.reads: list[tuple[str, str]] = []

    def read_text(self, path, *, limit=hostfiles.MAX_BYTES):
        self.reads.append((threading.current_thread().name, os.fspath(path)))
        text = self.files.get(os.fspath(path))
        return text if text is not None and len(text) <= limit else None

    def read_bytes(self, path, *, limit=hostfiles.MAX_BYTES):
        text = self.read_text(path, limit=limit)
        return None if text is None else text.encode()

    def home(self):
        return self._home

    def readlink(self, path):
        return self.links.get(os.fspath(path))

    def which(self, name):
        return None

    def realpath(self, path):
        return path


PROFILE = "/home/lab/ff-profile-that-is-not-here"


def firefox_listener(port: int, pid: int = 4242) -> Listener:
    cmd = ["/opt/ff/firefox", "--marionette", "-profile", PROFILE]
    return Listener(host="127.0.0.1", port=port, pid=pid, process="firefox", cmdline=cmd, source="listing")


def test_the_default_is_this_machine(tmp_path):
    files = hostfiles.current()
    assert files is hostfiles.LOCAL and not files.remote
    (tmp_path / "f").write_text("abc")
    assert files.read_text(tmp_path / "f") == "abc"
    assert files.read_text(tmp_path / "f", limit=2) is None  # over the limit: unread, never cut
    assert files.read_text(tmp_path / "missing") is None and files.read_text(tmp_path) is None
    assert files.read_bytes(tmp_path / "f") == b"abc"
    made = files.temp_dir()
    assert os.path.isdir(made) and os.stat(made).st_mode & 0o777 == 0o700
    files.remove(made)
    assert not os.path.exists(made)
    assert hostfiles.machine(None) is hostfiles.LOCAL and hostfiles.machine("ssh://nobody@nowhere") is None


def test_looking_at_is_scoped_and_restored():
    there = Elsewhere({})
    with hostfiles.looking_at(there):
        assert hostfiles.current() is there
    assert hostfiles.current() is hostfiles.LOCAL


def test_firefox_hints_read_the_port_file_on_the_machine_looked_at():
    ff = FirefoxAdapter()
    marionette, bidi = firefox_listener(41000), firefox_listener(41001)
    there = Elsewhere({f"{PROFILE}/MarionetteActivePort": "41000\n"})
    with hostfiles.looking_at(there):
        hint = ff.hints(marionette)
        assert hint is not None and hint.reason == f"{PROFILE}/MarionetteActivePort"
        assert ff.hints(bidi) is None  # the file names the other port: Firefox's BiDi listener
    # here the profile does not exist: only the process says Marionette, on both ports
    assert ff.hints(marionette).reason == "firefox started with --marionette"
    assert ff.hints(bidi) is not None


def test_firefox_extra_listeners_elsewhere_come_from_its_listing_not_our_processes(monkeypatch):
    import tether_firefox.adapter as adapter_mod

    def no_walk():
        raise AssertionError("this machine's processes walked for another machine's scan")

    monkeypatch.setattr(adapter_mod, "firefox_processes", no_walk)
    other = firefox_listener(41005)  # Firefox's other listener; the port file names 41000
    there = Elsewhere({f"{PROFILE}/MarionetteActivePort": "41000"})
    with hostfiles.looking_at(there):
        extra = list(FirefoxAdapter().extra_listeners([other]))
    assert [(li.port, li.pid, li.source) for li in extra] == [(41000, 4242, "file")]


def test_firefox_version_is_read_beside_the_binary_of_the_process_there():
    there = Elsewhere(
        {"/opt/ff-153/application.ini": "[App]\nName=Firefox\nVersion=153.8.0\n"},
        links={"/proc/4242/exe": "/opt/ff-153/firefox"},
    )
    with hostfiles.looking_at(there):
        assert firefox_version(["firefox", "--marionette"], 4242) == "153.8.0"
    assert ("MainThread", "/opt/ff-153/application.ini") in there.reads


def test_igv_hints_read_prefs_in_the_home_there():
    igv = IGVAdapter()
    other_user = Listener(host="127.0.0.1", port=60999, source="listing")  # no pid: another user's
    there = Elsewhere({"/home/lab/igv/prefs.properties": "PORT_NUMBER=60999\n"})
    with hostfiles.looking_at(there):
        hint = igv.hints(other_user)
        assert hint is not None and "prefs.properties" in hint.reason
        assert [li.port for li in igv.extra_listeners([])] == [60999]
        java = Listener(
            host="127.0.0.1",
            port=60999,
            pid=7,
            process="java",
            cmdline=["java", "-cp", "/opt/igv/igv.jar", "org.broad.igv.ui.Main"],
        )
        assert "configured" in igv.hints(java).reason  # PORT_NUMBER of ~/igv, ~ being the host's
    assert PurePosixPath("/home/lab/igv/prefs.properties") != PurePosixPath(os.path.expanduser("~/igv"))


def test_igv_version_there_comes_from_its_dpkg_status_never_our_jar(monkeypatch):
    from tether_igv import probe

    def no_local_jar(path):
        raise AssertionError("this machine's jar read for another machine's IGV")

    monkeypatch.setattr(probe, "_about_properties", no_local_jar)
    status = "Package: igv\nStatus: install ok installed\nVersion: 2.17.4+dfsg-1\n\n"
    there = Elsewhere({"/var/lib/dpkg/status": status})
    cmd = ["java", "-cp", "/usr/share/java/igv.jar", "org.broad.igv.ui.Main"]
    with hostfiles.looking_at(there):
        assert probe.version_from_install(cmd) == "2.17.4"
    assert probe.version_from_install(["java"]) is None


def test_the_probe_threads_read_the_same_machine(monkeypatch):
    """identify() probes in a pool of threads, which do not inherit the caller's context: the
    version hints they read must still be the machine's looked at."""
    ff = FirefoxAdapter()
    there = Elsewhere(
        {
            f"{PROFILE}/MarionetteActivePort": "41000",
            "/opt/ff/application.ini": "[App]\nVersion=140.1.0\n",
        },
        links={"/proc/4242/exe": "/opt/ff/firefox", "/proc/4343/exe": "/opt/ff/firefox"},
    )
    from tether.adapter import ProbeResult, Verdict

    monkeypatch.setattr(
        ff, "probe", lambda host, port, timeout: ProbeResult(Verdict.VERIFIED, detail="greeting")
    )
    listeners = [firefox_listener(41000, pid=4242), firefox_listener(41001, pid=4343)]
    with hostfiles.looking_at(there):
        cands = [Candidate(li, [(ff, ff.hints(listeners[0]))]) for li in listeners]
        found = identify(cands, (ff,), timeout=0.5)
    assert [e.version for e in found] == ["140.1.0", "140.1.0"]
    assert any(
        name.startswith("tether-probe") for name, path in there.reads if path.endswith("application.ini")
    )


def test_a_remote_gather_adds_no_unlisted_default_port():
    there = Elsewhere({})
    with hostfiles.looking_at(there):
        cands = gather([firefox_listener(41000)], (FirefoxAdapter(), IGVAdapter()), defaults=False)
    assert [c.listener.port for c in cands] == [41000]


def _record_here(port: int):
    rec = ff_launch.Launched(
        app="firefox",
        key=str(port),
        pid=os.getpid(),
        create_time=launched.start_time(os.getpid()),
        data={"host": "127.0.0.1", "port": port, "profile": "/nonexistent", "binary": "firefox"},
    )
    rec.save()
    return rec


@pytest.mark.parametrize("host", ["ssh://me@lab-ws", "10.1.2.3"])
def test_quitting_a_firefox_on_another_machine_never_touches_a_local_one(host):
    _record_here(2828)  # a Firefox tether launched here, on the same port number

    def must_not_connect():
        raise AssertionError("connected without --force")

    with pytest.raises(UsageError, match="on this machine") as err:
        ff_launch.quit_firefox(host=host, port=2828, client=must_not_connect)
    assert "--force" in err.value.hint
    assert ff_launch.find_record(port=2828) is not None  # the local record is untouched


def test_quitting_a_firefox_elsewhere_with_force_asks_it_and_checks_no_local_pid(monkeypatch):
    _record_here(2828)
    asked = []

    class Remote:
        endpoint = None
        port = 55555  # the forward
        pid = os.getpid()  # a pid that also exists here: it must not be waited for

        def open(self):
            return self

        def quit(self, timeout):
            asked.append(timeout)

    def no_local_checks(*a, **k):
        raise AssertionError("a remote pid looked up on this machine")

    monkeypatch.setattr(ff_launch.launched, "wait_process_gone", no_local_checks)
    done = ff_launch.quit_firefox(host="ssh://me@lab-ws", port=2828, force=True, client=Remote)
    assert asked and done["stopped"] == "marionette" and done["host"] == "ssh://me@lab-ws"
    assert done["port"] == 2828 and ff_launch.find_record(port=2828) is not None
