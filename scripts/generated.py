"""Pages generated from the code (docs/commands.md, docs/json-contract.md and
docs/performance.md's tables): write one, or with --check say how it differs and how to
regenerate it. The scripts that render them import this from beside them (`python
scripts/NAME.py` puts scripts/ first on the path; tests load them through tests.helpers).
"""

from __future__ import annotations

import difflib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shown(path: Path) -> str:
    """`path` as a reader of the repository names it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stale(path: Path, current: str, wanted: str, source: str, regenerate: str) -> str:
    """What --check prints: a diff from the page to what `source` makes it, and the remedy."""
    diff = difflib.unified_diff(
        current.splitlines(),
        wanted.splitlines(),
        f"{shown(path)} (as committed)",
        f"{shown(path)} ({source})",
        lineterm="",
    )
    return (
        "\n".join(diff)
        + f"\n\n{shown(path)} does not match {source}; regenerate it:\n    {regenerate}\n"
    )


def keep_current(
    path: Path, current: str, wanted: str, *, check: bool, source: str, regenerate: str
) -> bool:
    """With `check`, whether `path` holds `wanted` (printing `stale` when it does not);
    else write `wanted` there when it differs, and True."""
    if check:
        if current != wanted:
            print(stale(path, current, wanted, source, regenerate), end="")
        return current == wanted
    if current != wanted:
        path.write_text(wanted, encoding="utf-8")
    return True
