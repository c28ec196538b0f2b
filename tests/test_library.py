"""The library's examples run, and print what docs/library.md says they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "docs" / "library.md"
# "[examples/NAME.py](examples/NAME.py) … prints:" then a ```text block: what it prints.
EXAMPLE = re.compile(
    r"\[examples/(?P<name>[\w.]+\.py)\]\(examples/[\w.]+\.py\)[^`]*?prints:\n\n```text\n(?P<out>.*?)```",
    re.DOTALL,
)


def _examples() -> list[tuple[str, str]]:
    found = [(m["name"], m["out"]) for m in EXAMPLE.finditer(PAGE.read_text(encoding="utf-8"))]
    assert found, f"{PAGE}: no example with the output it prints"
    return found


def test_every_example_file_is_on_the_page() -> None:
    files = {p.name for p in (ROOT / "docs" / "examples").glob("*.py")}
    assert files == {name for name, _ in _examples()}


@pytest.mark.parametrize(("name", "printed"), _examples(), ids=lambda v: v[:24])
def test_the_example_prints_what_the_page_says(name: str, printed: str, tmp_path: Path) -> None:
    script = ROOT / "docs" / "examples" / name
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "storage")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == printed, result.stdout + result.stderr
    assert result.stderr == "", result.stderr


def test_the_public_api_is_the_service() -> None:
    import agijobs
    from agijobs.service import Fabric

    assert agijobs.Fabric is Fabric
    assert all(hasattr(agijobs, name) for name in agijobs.__all__)
