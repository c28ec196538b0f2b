"""The documentation stays true: a short README, an index of every page, links that resolve,
and a command reference equal to the command line's own `--help`.

The shell examples of README.md and docs/*.md are run by tests/test_runbooks.py, with the
runbooks' harness (test_document_runs_as_written).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from .helpers import load_script

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def _prose(path: Path) -> str:
    """The page without its code blocks and code spans, where links are not links."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return re.sub(r"`+[^`\n]*`+", "", text)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, and a
    repeated heading numbered from -1."""
    seen: Counter[str] = Counter()
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


def test_the_readme_is_a_five_minute_read() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    # .ci greps the README for the two commands a newcomer runs.
    assert "make run" in text and "make test" in text
    # Its console session is a transcript the harness runs, not prose.
    session = re.search(r"^```sh\n\$ agijobs run scenarios/", text, re.MULTILINE)
    assert session, "README.md: the console session must be an ```sh block starting a run"


def test_the_index_links_every_page() -> None:
    index = ROOT / "docs" / "README.md"
    linked = set(LINK.findall(_prose(index)))
    assert {p.name for p in DOCS if p != index} <= linked
    readme = set(LINK.findall(_prose(README)))
    assert "docs/README.md" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(page)):
        if re.match(r"[a-z]+:", target):
            continue  # a URL: not ours to check offline
        name, _, fragment = target.partition("#")
        path = (page.parent / name).resolve() if name else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
            broken.append(f"{target}: no heading `#{fragment}` in {path.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shell_examples_are_sh_blocks(page: Path) -> None:
    """The harness runs ```sh blocks only: a shell example fenced otherwise would escape it.
    What cannot run as written is marked ```console (or ```text)."""
    fences = re.findall(r"^```(\w*)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    assert not {"bash", "shell", "zsh", "shell-session"} & set(fences)


# --------------------------------------------------------------------------- commands.md


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return load_script("command_reference")


def test_commands_md_matches_the_cli_help(reference: ModuleType) -> None:
    wanted = reference.render()
    current = reference.OUTPUT.read_text(encoding="utf-8")
    if current != wanted:
        stale = load_script("generated").stale
        message = stale(reference.OUTPUT, current, wanted, reference.SOURCE, reference.REGENERATE)
        pytest.fail(message, pytrace=False)
    # Sub-commands are found through their group's help, not only the top-level list.
    assert "\n## agijobs keys new\n" in wanted
    assert "Usage: agijobs keys new [OPTIONS] NAME" in wanted


def test_check_prints_the_diff_and_the_command_to_regenerate(
    reference: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(reference, "render", lambda: "# Command reference\n\nnew line\n")
    out = tmp_path / "commands.md"
    out.write_text("# Command reference\n\nold line\n", encoding="utf-8")
    assert reference.main(["--check", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "-old line\n+new line" in printed
    assert ".venv/bin/python scripts/command_reference.py" in printed
    assert out.read_text(encoding="utf-8").endswith("old line\n")  # --check writes nothing
    assert reference.main(["--out", str(out)]) == 0
    assert reference.main(["--check", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").endswith("new line\n")


# --------------------------------------------------------------------------- json-contract.md


@pytest.fixture(scope="module")
def json_contract() -> ModuleType:
    return load_script("json_contract")


def test_json_contract_md_lists_every_published_schema(
    json_contract: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference half of docs/json-contract.md is what the schemas say today."""
    if json_contract.main(["--check"]) != 0:
        pytest.fail(capsys.readouterr().out, pytrace=False)
    page = (ROOT / "docs" / "json-contract.md").read_text(encoding="utf-8")
    from agijobs import contract

    for name in [*contract.kind_names(), *contract.EVENT_TYPES]:
        assert f"\n#### {name}\n" in page


def test_json_contract_check_prints_the_diff_and_the_remedy(
    json_contract: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "json-contract.md"
    page.write_text("# prose kept\n", encoding="utf-8")
    assert json_contract.main(["--check", "--out", str(page)]) == 1
    assert "scripts/json_contract.py" in capsys.readouterr().out
    assert page.read_text(encoding="utf-8") == "# prose kept\n"  # --check writes nothing
    assert json_contract.main(["--out", str(page)]) == 0
    assert json_contract.main(["--check", "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("# prose kept\n\n<!-- generated")
