"""IGV's generated client methods are source that type checkers see, kept in sync with the table;
the client's address is read without a scan."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tether_igv.generated as generated
from tether_igv.client import IGVClient
from tether_igv.commands import GENERATED, client_source


def test_the_generated_module_is_what_the_table_gives():
    text = Path(generated.__file__).read_text(encoding="utf-8")
    assert text == client_source(), "run: python -m tether_igv.commands --write"


def test_every_generated_row_is_a_method_defined_in_source_with_igvs_arguments():
    """Defined by ``def`` in generated.py (what mypy and editors read), not set at import."""
    tree = ast.parse(Path(generated.__file__).read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GeneratedCommands"]
    defined = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    for spec in GENERATED:
        fn = defined[spec.method]
        names = [a.arg for a in fn.args.args[1:]] + ([fn.args.vararg.arg] if fn.args.vararg else [])
        assert names == [a.name for a in spec.args], spec.igv
        assert [a.arg for a in fn.args.kwonlyargs] == ["timeout"], spec.igv
        assert ast.unparse(fn.returns) == ("str" if spec.query else "Reply"), spec.igv
        assert getattr(IGVClient, spec.method) is getattr(generated.GeneratedCommands, spec.method)
    assert set(defined) == {s.method for s in GENERATED} | {"_run"}


def test_a_deferred_clients_host_and_port_never_scan():
    looked: list = []

    class Found:
        host, port, pid, cmdline, version, extra = "127.0.0.1", 61234, None, [], None, {}

    igv = IGVClient.deferred(lambda: looked.append(1) or Found())
    assert igv.host is None and igv.port is None and not igv.on_this_machine
    assert looked == [] and repr(igv) == "IGVClient(<not looked up yet>)"
    assert igv.locate() == ("127.0.0.1", 61234) and looked == [1]
    assert (igv.host, igv.port) == ("127.0.0.1", 61234) and igv.on_this_machine
    igv.locate()
    assert looked == [1]  # found once


@pytest.mark.parametrize(
    ("host", "here"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True), ("10.1.2.3", False)],
)
def test_on_this_machine_is_the_cores_loopback_rule(host, here):
    assert IGVClient(host, 60151).on_this_machine is here
    assert IGVClient(host, 60151, machine="ssh://lab").on_this_machine is False
