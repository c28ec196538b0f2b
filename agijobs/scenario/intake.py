"""Work intake at the boundary: the jobs of an `agijobs submit` file, validated as the
command `job.submit` that carries them.

The file is JSON lines (one entry per line; `.ndjson`/`.jsonl`, or any input whose
non-blank lines are each a JSON object) or YAML/JSON (a list of entries, or a mapping
`{jobs: [...]}`). An entry is a workload group's job fields: `shard`, `skills`,
`duration`, `value`, and `id` (one job) or `prefix` and `count` (`<prefix>-000001`…).
Every message names the file and the entry (`jobs.ndjson: line 3 -> shard`); the fabric's
own checks (a shard that does not exist, skills no node has, an id used before), which name
the entry as `jobs -> i`, are said the same way by `locate`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from ..errors import AgijobsError, BadInput
from .documents import parse_document, read_input_file
from .limits import (
    INT64_MAX,
    MAX_DOCUMENT_BYTES,
    MAX_JOBS_PER_SUBMIT,
    MAX_NAME_CHARS,
    MAX_TICKS,
    MAX_TOTAL_VALUE,
    NAME_PATTERN,
)

_JSON_LINES = (".ndjson", ".jsonl")
_EXAMPLE = (
    '{"shard": "earth", "skills": ["gpu"], "duration": 3, "value": 100, "id": "web-7"}'
    ' (or "prefix": "web", "count": 50 instead of "id")'
)


def read_jobs(source: str, data: bytes | None) -> tuple[dict[str, Any], list[str]]:
    """The `job.submit` arguments of a submit file (`source`, `-` for `data` read from
    stdin), validated; and where each entry is in the file (`jobs.ndjson: line 3`)."""
    label = "<stdin>" if source == "-" else source
    if data is None:
        data = read_input_file(Path(source), label)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise BadInput(
            f"{label}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
            "submit jobs by `prefix` and `count`, not one by one, or in several batches",
        )
    if Path(label).suffix.lower() in _JSON_LINES or _looks_like_json_lines(data):
        entries, places = _json_lines(label, data)
    else:
        entries, places = _document(label, data)
    if not entries:
        raise BadInput(f"{label}: no jobs", f"give one entry per job or group, e.g. {_EXAMPLE}")
    if len(entries) > MAX_JOBS_PER_SUBMIT:
        raise BadInput(
            f"{label}: {len(entries):,} entries, more than {MAX_JOBS_PER_SUBMIT:,} jobs",
            "split the submission into several batches",
        )
    args = plainly_valid(entries)
    if args is None:
        args = validated(label, entries, places)
    return args, [f"{label}: {where}" for where in places]


def validated(label: str, entries: list[Any], places: list[str]) -> dict[str, Any]:
    """The entries held to `job.submit`'s model (`JobSubmit`), each message naming the
    entry's place in the file; its arguments as the log records them."""
    from .commands import JobSubmit
    from .compile import command_args
    from .validation import validate

    def place(loc: list[str], kind: str) -> list[str]:
        if len(loc) > 1 and loc[0] == "jobs":  # an entry: where it is in the file
            return [places[int(loc[1])], *loc[2:]]
        return loc

    body = {"command": "job.submit", "jobs": entries, "reason": "submitted"}
    model = validate(label, JobSubmit, body, prefix=(), place=place)
    return command_args(model)


_NAME = re.compile(NAME_PATTERN.removesuffix("$") + r"\Z")
_KEYS = frozenset({"id", "prefix", "count", "shard", "skills", "duration", "value"})


def plainly_valid(entries: list[Any]) -> dict[str, Any] | None:
    """`validated`'s result for entries that are plainly valid, found without pydantic
    (whose import is most of what a small submission at rest costs); None for anything
    else, which `validated` then judges and names. It accepts only what the model accepts,
    as the model writes it (a property test holds the two together)."""
    jobs: list[dict[str, Any]] = []
    count = value = 0
    for entry in entries:
        if type(entry) is not dict or not entry.keys() <= _KEYS:
            return None
        named = "id" in entry
        if ("prefix" in entry) == named or ("count" in entry) == named:
            return None
        skills = entry.get("skills")
        if type(skills) is not list or not skills:
            return None
        names = [entry.get("shard"), entry["id"] if named else entry["prefix"], *skills]
        if not all(type(n) is str and len(n) <= MAX_NAME_CHARS and _NAME.match(n) for n in names):
            return None
        here = 1 if named else entry["count"]
        job_value = entry.get("value", 0)
        if not (
            _whole(here, 1, MAX_JOBS_PER_SUBMIT)
            and _whole(entry.get("duration"), 1, MAX_TICKS)
            and _whole(job_value, 0, INT64_MAX)
        ):
            return None
        count += here
        value += here * job_value
        jobs.append({**entry, "value": job_value})
    if count > MAX_JOBS_PER_SUBMIT or value > MAX_TOTAL_VALUE:
        return None
    return {"jobs": jobs}


def _whole(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _looks_like_json_lines(data: bytes) -> bool:
    """A first line that is a JSON object of its own, other than a `{"jobs": [...]}`
    document: JSON lines (YAML would refuse a second such line)."""
    first = next((line for line in data.splitlines() if line.strip()), b"")
    if not first.lstrip().startswith(b"{"):
        return False
    try:
        entry = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(entry, dict) and "jobs" not in entry


def _json_lines(label: str, data: bytes) -> tuple[list[Any], list[str]]:
    entries: list[Any] = []
    places: list[str] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(entries) >= MAX_JOBS_PER_SUBMIT:
            entries.append(None)  # counted, refused below
            places.append(f"line {number}")
            break
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadInput(
                f"{label}: line {number}: invalid JSON ({exc.msg})",
                "write one JSON object per line, e.g. " + _EXAMPLE,
            ) from None
        entries.append(entry)
        places.append(f"line {number}")
    return entries, places


def _document(label: str, data: bytes) -> tuple[list[Any], list[str]]:
    raw = parse_document(Path(label), data)
    if isinstance(raw, dict) and set(raw) == {"jobs"}:
        entries, base = raw["jobs"], "jobs -> "
    elif isinstance(raw, list):
        entries, base = raw, ""
    else:
        keys = f" (keys: {', '.join(map(str, raw))})" if isinstance(raw, dict) else ""
        raise BadInput(
            f"{label}: expected a list of jobs or {{jobs: [...]}}{keys}",
            "one entry per job or group, e.g. " + _EXAMPLE,
        )
    if not isinstance(entries, list):
        raise BadInput(f"{label}: jobs: expected a list of entries", "e.g. " + _EXAMPLE)
    return entries, [f"{base}{index}" for index in range(len(entries))]


_FABRIC_PLACE = re.compile(r"jobs -> (\d+)(?= -> |: )")


def locate(error: AgijobsError, places: list[str]) -> AgijobsError:
    """`error` with the fabric's `jobs -> i` (the entry's index in the command) said as the
    entry's place in the file (`jobs.ndjson: line 3`); any other error as it is."""
    found = _FABRIC_PLACE.search(error.message)
    if found is None or int(found.group(1)) >= len(places):
        return error
    place = places[int(found.group(1))]
    message = error.message[: found.start()] + place + error.message[found.end() :]
    located = type(error)(message, error.hint)
    return located
