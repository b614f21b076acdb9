"""A local IGV's version from its install (the jar's about.properties, Debian's dpkg status), read
again only when the file changes: a scan a second re-reads neither the jar index nor dpkg's file."""

from __future__ import annotations

import os
import zipfile

from tether_igv import probe

STANZAS = """Package: igv-doc
Status: install ok installed
Version: 9.9.9

Package: igv
Status: {status}
Version: {version}
Depends: default-jre

Package: other
Status: install ok installed
Version: 1.0
"""


def _status(path, version: str, status: str = "install ok installed") -> None:
    path.write_text(STANZAS.format(version=version, status=status), encoding="utf-8")


def test_the_debian_version_is_read_from_the_igv_stanza_and_again_when_the_file_changes(
    tmp_path, monkeypatch
):
    status = tmp_path / "status"
    monkeypatch.setattr(probe, "DPKG_STATUS", str(status))
    monkeypatch.setattr(probe, "_DPKG_SEEN", {})
    _status(status, "2.16.0+dfsg-1")
    assert probe._dpkg_version("igv") == "2.16.0"  # igv-doc's stanza is another package
    _status(status, "1:2.19.3-2")  # a new size: read again (the epoch is not the version)
    assert probe._dpkg_version("igv") == "2.19.3"
    _status(status, "2.19.30", status="deinstall ok config-files")
    assert probe._dpkg_version("igv") is None
    status.unlink()
    assert probe._dpkg_version("igv") is None


def test_the_jar_version_is_read_again_only_when_the_jar_changes(tmp_path, monkeypatch):
    jar = tmp_path / "igv.jar"
    monkeypatch.setattr(probe, "_ABOUT_SEEN", {})
    reads = []
    real = probe._read_about_properties
    monkeypatch.setattr(probe, "_read_about_properties", lambda path: reads.append(path) or real(path))

    def write(version: str, mtime: int) -> None:
        with zipfile.ZipFile(jar, "w") as zf:
            zf.writestr("resources/about.properties", f"version={version}\n")
        os.utime(jar, (mtime, mtime))

    cmdline = ["java", "-cp", str(jar), "org.igv.ui.Main"]
    write("2.19.1", 1_000_000)
    assert probe.version_from_install(cmdline) == "2.19.1"
    assert probe.version_from_install(cmdline) == "2.19.1" and len(reads) == 1  # the same jar
    write("2.19.2", 2_000_000)
    assert probe.version_from_install(cmdline) == "2.19.2" and len(reads) == 2
