"""Every runbook runs as written: each `$ agijobs …` command of its `sh` blocks, in order,
with the exit code it states (`# exit N`) and the stdout printed below it. README.md and
docs/*.md run the same way, each on its own scratch storage.

The format and the matching rules are documented in runbooks/README.md. To see what the
commands of a runbook print now, in the runbook's own form:

    .venv/bin/python tests/test_runbooks.py runbooks/pause-all-during-incident.md
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .contract_check import check_output

ROOT = Path(__file__).parent.parent
RUNBOOKS = sorted(p for p in (ROOT / "runbooks").glob("*.md") if p.name != "README.md")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
SHELL_OPERATORS = frozenset({"|", "||", "&", "&&", ";", ">", ">>", "<", "<<", "2>", "2>&1"})
ANY_LINES = "..."  # on a line of its own: any number of lines, zero included
ANY_TEXT = "…"  # inside a line: any text within that line
# A runbook whose first line is this runs against a fabric in PostgreSQL, not a directory.
POSTGRES_MARK = re.compile(r"<!-- storage: postgresql fabric=([A-Za-z0-9_.@-]+) -->\n")


@dataclass
class Step:
    """One `$ ` line of an `sh` block and the stdout expected of it."""

    line: int  # 1-based line of the command in the runbook
    text: str  # the command as written, without the `$ `
    env: dict[str, str]
    argv: list[str]  # empty: not an agijobs command, not executed
    exit: int
    expected: list[str] = field(default_factory=list)
    shell: bool = False  # a `$ kill …` line: run by sh, the one non-agijobs command run


class RunbookError(ValueError):
    """The runbook itself breaks the format (not a failure of the tool)."""


def parse(path: Path) -> list[Step]:
    """The `$ ` commands of a runbook's `sh` blocks, each with the lines expected below it."""
    text = path.read_text(encoding="utf-8")
    steps: list[Step] = []
    for block in BLOCK.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        current: Step | None = None
        for offset, raw in enumerate(block.group(1).splitlines()):
            where = f"{path.name}:{first + offset}"
            if raw.startswith("$ "):
                current = _step(raw[2:], first + offset, where)
                steps.append(current)
            elif current is not None:
                current.expected.append(raw)
            elif raw.strip():
                raise RunbookError(
                    f"{where}: a line before the first `$ ` command of an sh block: {raw!r} "
                    "(write commands as `$ agijobs …`, their stdout below them)"
                )
    for step in steps:
        while step.expected and not step.expected[-1].strip():
            step.expected.pop()  # blank lines before the next command or the fence
        if step.expected and not step.argv:
            raise RunbookError(
                f"{path.name}:{step.line}: `{step.text}` is not run by the harness, so output "
                "written below it cannot be checked; move it out of the sh block"
            )
    return steps


def _step(command: str, line: int, where: str) -> Step:
    words = shlex.split(command, comments=True)
    env = {}
    while words and ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    match = EXIT.search(command)
    code = int(match.group(1)) if match else 0
    if words and words[0] == "kill" and not env:  # the crash drill's real kill of a runner
        return Step(line, command, env, ["sh", "-c", command], code, shell=True)
    if not words or words[0] != "agijobs":
        return Step(line, command, env, [], code)
    operators = SHELL_OPERATORS.intersection(words)
    if operators:
        raise RunbookError(
            f"{where}: `{command}` uses {', '.join(sorted(operators))}; the harness runs one "
            "agijobs command per `$ ` line, without a shell"
        )
    return Step(line, command, env, words, code)


# --------------------------------------------------------------------------- matching


def line_matches(pattern: str, actual: str) -> bool:
    """One expected line against one stdout line: exact after stripping trailing spaces,
    with `…` matching any text within the line."""
    pattern, actual = pattern.rstrip(), actual.rstrip()
    if ANY_TEXT not in pattern:
        return pattern == actual
    parts = (re.escape(part) for part in pattern.split(ANY_TEXT))
    return re.fullmatch(".*".join(parts), actual) is not None


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """None when stdout matches; otherwise a diff-like explanation of the first mismatch.

    `reach[i]` holds the stdout positions at which `expected[:i]` can end, so the first
    expected line that no position can continue with is exactly where the match breaks.
    """
    while actual and not actual[-1].strip():
        actual = actual[:-1]
    reach: list[set[int]] = [{0}]
    for pattern in expected:
        before = reach[-1]
        if pattern.strip() == ANY_LINES:
            after = set(range(min(before), len(actual) + 1))
        else:
            after = {j + 1 for j in before if j < len(actual) and line_matches(pattern, actual[j])}
        if not after:
            break
        reach.append(after)
    done = len(reach) - 1  # expected lines matched
    if done == len(expected) and len(actual) in reach[-1]:
        return None
    end = max(reach[-1])
    shown = _aligned(expected[:done], actual, reach, end) + _filled(expected[done:], actual, end)
    if done < len(expected):
        got = repr(actual[end]) if end < len(actual) else "end of output"
        head = f"expected line {done + 1}: {expected[done]!r}\nstdout line {end + 1}:   {got}"
    else:
        head = f"stdout goes on after the last expected line, at stdout line {end + 1}: " + repr(
            actual[end]
        )
    diff = difflib.unified_diff(shown, actual, "expected", "stdout", lineterm="", n=3)
    return head + "\n" + "\n".join(diff)


def _aligned(matched: list[str], actual: list[str], reach: list[set[int]], end: int) -> list[str]:
    """The stdout lines the matched expected lines stand for (wildcards filled in), so the
    diff shows only the real differences."""
    out: list[list[str]] = []
    for i in range(len(matched), 0, -1):
        if matched[i - 1].strip() == ANY_LINES:
            start = min(j for j in reach[i - 1] if j <= end)
            out.append(actual[start:end])
            end = start
        else:
            out.append([actual[end - 1]])
            end -= 1
    return [line for lines in reversed(out) for line in lines]


def _filled(rest: list[str], actual: list[str], cursor: int) -> list[str]:
    """The expected lines after the mismatch, each `…` line replaced by the next stdout line
    it matches (if any), so that the diff does not flag wildcards as differences."""
    out = []
    for pattern in rest:
        if ANY_TEXT in pattern:
            hit = next(
                (j for j in range(cursor, len(actual)) if line_matches(pattern, actual[j])), None
            )
            if hit is not None:
                out.append(actual[hit])
                cursor = hit + 1
                continue
        out.append(pattern)
    return out


# --------------------------------------------------------------------------- running


def prepare(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The runbooks' own setup, done as they tell the operator: the public drill keys copied
    somewhere private (git keeps no file modes), files the commands write kept out of the
    checkout, the repository's scenarios and runbooks at hand. Returns (cwd, environment)."""
    keys = tmp / "keys"
    keys.mkdir(mode=0o700)
    for key in (ROOT / "runbooks" / "drill-keys").glob("*.key"):
        copy = keys / key.name
        copy.write_bytes(key.read_bytes())
        copy.chmod(0o600)
    work = tmp / "work"
    work.mkdir()
    for name in ("scenarios", "runbooks", "docs", "bridge", "tests"):
        (work / name).symlink_to(ROOT / name)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGIJOBS_")}
    env.update(
        AGIJOBS_STORAGE=str(tmp / "storage"),
        AGIJOBS_KEY_DIR=str(keys),
        NO_COLOR="1",
        COLUMNS="100",
        TERM="dumb",
    )
    return work, env


def execute(step: Step, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    if step.shell:
        result = subprocess.run(
            step.argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        return result.returncode, result.stdout, result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "agijobs", *step.argv[1:]],
        cwd=cwd,
        env={**env, **step.env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    check_output(step.argv[1:], result.stdout)  # every --json document keeps its schema
    # A shell reports a process killed by signal N as 128 + N (SIGKILL: 137).
    code = 128 - result.returncode if result.returncode < 0 else result.returncode
    return code, result.stdout, result.stderr


def failure(path: Path, step: Step, problem: str, stdout: str, stderr: str) -> str:
    return (
        f"{path.name}:{step.line}: $ {step.text}\n{problem}\n"
        f"--- full stdout ---\n{stdout.rstrip()}\n--- stderr ---\n{stderr.rstrip()}"
    )


# --------------------------------------------------------------------------- tests


def test_the_runbooks_are_the_eight_operator_stories() -> None:
    assert [p.name for p in RUNBOOKS] == [
        "adjust-latency-budgets.md",
        "audit-a-governance-change.md",
        "owner-keys.md",
        "pause-all-during-incident.md",
        "reroute-earth-backlog-to-helios.md",
        "resume-after-crash.md",
        "shared-fabric-on-postgresql.md",
        "what-if-before-reroute.md",
    ]


def test_the_index_links_every_runbook() -> None:
    index = (ROOT / "runbooks" / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#]+\.md)\)", index))
    assert linked == {p.name for p in RUNBOOKS}


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_runbook_runs_as_written(
    path: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    steps = [step for step in parse(path) if step.argv]
    assert steps, f"{path.name} has no `$ agijobs …` commands"
    run_as_written(path, steps, tmp_path, request)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_document_runs_as_written(
    path: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_as_written(path, [step for step in parse(path) if step.argv], tmp_path, request)


def run_as_written(
    path: Path, steps: list[Step], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cwd, env = prepare(tmp_path)
    wanted = POSTGRES_MARK.match(path.read_text(encoding="utf-8"))
    if wanted:  # the fabric its first line names, in the test session's PostgreSQL server
        server = request.getfixturevalue("pg_server")
        env["AGIJOBS_STORAGE"] = f"{server}?fabric={wanted.group(1)}"
    try:
        for step in steps:
            code, stdout, stderr = execute(step, cwd, env)
            if code != step.exit:
                pytest.fail(
                    failure(path, step, f"exited {code}, expected {step.exit}", stdout, stderr),
                    pytrace=False,
                )
            problem = step.expected and mismatch(step.expected, stdout.splitlines())
            if problem:
                pytest.fail(failure(path, step, problem, stdout, stderr), pytrace=False)
    except BaseException:
        # A drill that failed halfway may leave a detached runner live: stop it.
        execute(Step(0, "agijobs runner stop", {}, ["agijobs", "runner", "stop"], 0), cwd, env)
        raise


# The matching rules themselves, without running anything.


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (["a", "b"], ["a", "b"]),
        (["a  "], ["a"]),  # trailing spaces on either side
        (["a"], ["a   "]),
        (["a"], ["a", "", ""]),  # trailing blank lines of stdout
        (["a", "...", "d"], ["a", "b", "c", "d"]),
        (["a", "...", "b"], ["a", "b"]),  # `...` matches zero lines
        (["...", "c"], ["a", "b", "c"]),
        (["a", "..."], ["a"]),
        (["a", "...", "x", "...", "x"], ["a", "x", "b", "x", "x"]),  # backtracking
        (["started@0 (…), stopped@10 (…)"], ["started@0 (2026-01-01T00:00Z), stopped@10 (t)"]),
        (["a…b"], ["ab"]),  # `…` matches empty text too
    ],
)
def test_matching_accepts(expected: list[str], actual: list[str]) -> None:
    assert mismatch(expected, actual) is None


@pytest.mark.parametrize(
    ("expected", "actual", "says"),
    [
        (["a", "b"], ["a", "c"], "expected line 2: 'b'\nstdout line 2:   'c'"),
        (["a", "b"], ["a"], "stdout line 2:   end of output"),
        (["a"], ["a", "b"], "stdout goes on after the last expected line, at stdout line 2"),
        ([" a"], ["a"], "expected line 1"),  # leading spaces count
        (["x … y"], ["x y"], "expected line 1"),  # text around `…` must be there
        (["…"], ["a", "b"], "stdout goes on"),  # `…` never spans lines
        (["a", "...", "z"], ["a", "b"], "expected line 3: 'z'"),
    ],
)
def test_matching_rejects(expected: list[str], actual: list[str], says: str) -> None:
    problem = mismatch(expected, actual)
    assert problem is not None and says in problem


def test_the_diff_fills_in_wildcards() -> None:
    problem = mismatch(["head", "...", "t=…", "tail"], ["head", "x", "y", "t=42", "TAIL"])
    assert problem is not None
    assert "-tail\n+TAIL" in problem
    assert "t=…" not in problem.split("\n", 2)[2]  # the matched wildcard line is shown as is
    after = mismatch(["a", "B", "t=…", "c"], ["a", "b", "t=1", "c"])
    assert after is not None and "-B\n+b\n t=1\n c" in after  # also after the mismatch


def test_the_format_is_enforced(tmp_path: Path) -> None:
    stale = tmp_path / "stale.md"
    stale.write_text("```sh\nagijobs status\n```\n", encoding="utf-8")
    with pytest.raises(RunbookError, match=r"stale\.md:2: a line before the first `\$ `"):
        parse(stale)
    piped = tmp_path / "piped.md"
    piped.write_text("```sh\n$ agijobs audit --json | jq .\n```\n", encoding="utf-8")
    with pytest.raises(RunbookError, match="without a shell"):
        parse(piped)
    unchecked = tmp_path / "unchecked.md"
    unchecked.write_text("```sh\n$ echo hi\nhi\n```\n", encoding="utf-8")
    with pytest.raises(RunbookError, match="cannot be checked"):
        parse(unchecked)
    good = tmp_path / "good.md"
    good.write_text(
        "text\n```sh\n$ export X=1\n$ A=1 agijobs x --y 'a b'   # exit 2\nout\n\n"
        '$ agijobs z\n$ kill -9 "$(cat pid)"   # exit 1\n```\n',
        encoding="utf-8",
    )
    steps = parse(good)
    assert [(s.line, s.env, s.argv, s.exit, s.expected) for s in steps] == [
        (3, {}, [], 0, []),
        (4, {"A": "1"}, ["agijobs", "x", "--y", "a b"], 2, ["out"]),
        (7, {}, ["agijobs", "z"], 0, []),
        (8, {}, ["sh", "-c", 'kill -9 "$(cat pid)"   # exit 1'], 1, []),
    ]
    assert [s.shell for s in steps] == [False, False, False, True]


def _transcript(path: Path) -> None:
    """Print what each command of a runbook prints now, in the runbook's form."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd, env = prepare(Path(tmp))
        for step in parse(path):
            if not step.argv:
                continue
            code, stdout, stderr = execute(step, cwd, env)
            lines = stdout.splitlines()
            verdict = "" if not step.expected else (mismatch(step.expected, lines) or "matches")
            print(f"$ {step.text}")
            print(stdout.rstrip())
            note = f"# line {step.line}: exit {code} (expected {step.exit})"
            print(note if not verdict else f"{note}; output {verdict.splitlines()[0]}")
            if stderr.strip():
                print("# stderr: " + stderr.rstrip().replace("\n", "\n# stderr: "))
            print()


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        _transcript(Path(argument))
