"""The documentation site: it builds with ``mkdocs build --strict`` (no broken link, reference or
navigation entry), every command of the CLI has its page in the generated reference, with each of
its options, and every guide is reachable from the navigation."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _hook():
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _commands(cmd, words=()):
    """Every command and group of the CLI, as words (``("igv", "goto")``), walked here apart from
    the hook so that a command the hook skipped is still missed."""
    yield words, cmd
    if hasattr(cmd, "list_commands"):
        ctx = cmd.context_class(cmd, info_name="tether")
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from _commands(sub, (*words, name))


def test_the_site_builds_strict(site):
    assert (site / "index.html").exists()
    assert (site / "reference" / "cli" / "index.html").exists()


def test_every_command_has_a_page_with_its_options(site):
    hook = _hook()
    root = hook.root_command()
    missing, options_missing = [], []
    for words, cmd in _commands(root):
        group = hasattr(cmd, "list_commands")
        page = site / "reference" / "cli" / Path(*words) / "index.html" if words or group else None
        if page is None or not page.exists():
            missing.append(" ".join(("tether", *words)))
            continue
        text = page.read_text()
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if getattr(param, "param_type_name", "") == "option" and not param.hidden and opt not in text:
                    options_missing.append(f"tether {' '.join(words)} {opt}")
    assert not missing, f"commands with no page in the CLI reference: {missing}"
    assert not options_missing, f"options missing from their command's page: {options_missing}"
    assert len(list(_commands(root))) > 100  # the adapters' commands were loaded, not just the root's


def test_every_guide_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.parts]
    pages = [p for p in pages if p != "README.md"]
    absent = [p for p in pages if p not in nav]
    assert not absent, f"pages not in mkdocs.yml's nav: {absent}"


def test_a_command_without_help_would_show_as_such():
    """The reference never hides a missing help text: the generator says so on the page, which a
    reader sees (and this test shows the rule holds for the generator itself)."""
    hook = _hook()
    import typer

    app = typer.Typer()

    @app.command()
    def bare(count: int = 1) -> None:
        pass

    @app.command()
    def other() -> None:
        """Has help."""

    pages = hook.pages(typer.main.get_command(app))
    by_words = {p.words: p for p in pages}
    assert "(no help text)" in hook.render(by_words[("bare",)])
    assert "--count" in hook.render(by_words[("bare",)])
    assert re.search(r"\[`other`\]\(other\.md\)", hook.render(by_words[()]))


def test_every_tether_environment_variable_is_on_the_settings_page():
    """A ``TETHER_*`` variable the code reads and the settings page does not name is a setting
    nobody can find: the page lists tether's own, and generates the adapters' from their
    declarations (``TETHER_<APP>_<NAME>``)."""
    page = (DOCS / "settings.md").read_text()
    read = set()
    for base in (ROOT / "src", ROOT / "adapters"):
        for path in base.rglob("*.py"):
            read |= set(re.findall(r"\bTETHER_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    hook = _hook()
    generated = hook.settings_table()
    prefixes = {"TETHER_QSERVER", "TETHER_IGV", "TETHER_FIREFOX"}  # f-string stems of the generated names
    missing = sorted(v for v in read if v not in page and v not in generated and v not in prefixes)
    assert not missing, f"TETHER_* variables the code reads and docs/settings.md does not name: {missing}"
