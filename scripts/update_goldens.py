"""Rewrite the golden `events_digest` of scenario files after an intended behaviour change.

Usage: python scripts/update_goldens.py scenarios/*.yaml

Each scenario is dry-run in memory (the same runner as `agijobs run`) and the line
`  events_digest: ...` under `expect:` is replaced, keeping the file's comments. Review the
diff: a digest that changes is a change in what the fabric does.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from agijobs.run.lifecycle import simulate
from agijobs.scenario.loading import load_plan

LINE = re.compile(r"^(  events_digest:) .*$", re.MULTILINE)


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        digest = simulate(load_plan(path)).summary["events_digest"]
        text = path.read_text(encoding="utf-8")
        updated, count = LINE.subn(rf"\1 {digest}", text)
        if count != 1:
            print(f"{path}: expected one `  events_digest:` line under expect", file=sys.stderr)
            return 2
        if updated != text:
            path.write_text(updated, encoding="utf-8")
        print(f"{path}: {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
