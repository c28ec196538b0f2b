"""The job ids a run has used, kept as claims: a generated-form id (`<prefix>-<number>`,
the number written with at least 6 digits as the workload writes it) is a number in its
prefix's ranges, consecutive numbers merged into one range; any other id is kept by name.
So knowing every id ever used stays cheap (work intake, `intake.py`, refuses one used
before); and `Intake`, what submissions have added to a run, kept in its state."""

from __future__ import annotations

import bisect
from typing import Any

from .inputs import Planned

_MIN_DIGITS = 6  # `{n:06d}`: the workload's ids are `<prefix>-000001` onwards


def generated_id(prefix: str, number: int) -> str:
    """The id of the `number`th job (from 1) of a group or submission named `prefix`."""
    return f"{prefix}-{number:06d}"


def parse_generated(job_id: str) -> tuple[str, int] | None:
    """(prefix, number) when `job_id` is exactly what `generated_id` gives for them."""
    prefix, dash, digits = job_id.rpartition("-")
    if not dash or len(digits) < _MIN_DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    number = int(digits)
    if number < 1 or generated_id(prefix, number) != job_id:
        return None  # a leading zero beyond six digits is never generated
    return prefix, number


class Claims:
    """Job ids, as names and as ranges of numbers per prefix."""

    __slots__ = ("names", "ranges")

    def __init__(self) -> None:
        self.names: set[str] = set()
        # prefix -> sorted, disjoint, non-adjacent [first, last] ranges
        self.ranges: dict[str, list[list[int]]] = {}

    def add_id(self, job_id: str) -> None:
        parsed = parse_generated(job_id)
        if parsed is None:
            self.names.add(job_id)
        else:
            self.add_range(parsed[0], parsed[1], parsed[1])

    def add_range(self, prefix: str, first: int, last: int) -> None:
        ranges = self.ranges.setdefault(prefix, [])
        at = bisect.bisect_left(ranges, first, key=_first)
        ranges.insert(at, [first, last])
        # Merge with the neighbours it touches (claims never overlap: they are checked first).
        if at + 1 < len(ranges) and ranges[at + 1][0] == last + 1:
            ranges[at][1] = ranges.pop(at + 1)[1]
        if at > 0 and ranges[at - 1][1] == first - 1:
            ranges[at - 1][1] = ranges.pop(at)[1]

    def find_range(self, prefix: str, first: int, last: int) -> str | None:
        """The first id of `prefix`-first..last that is claimed, if any."""
        ranges = self.ranges.get(prefix)
        if not ranges:
            return None
        at = bisect.bisect_right(ranges, last, key=_first) - 1
        if at >= 0 and ranges[at][1] >= first:
            return generated_id(prefix, max(first, ranges[at][0]))
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "names": sorted(self.names),
            "ranges": {
                prefix: [list(r) for r in self.ranges[prefix]] for prefix in sorted(self.ranges)
            },
        }


def _first(claim: list[int]) -> int:
    return claim[0]


def planned_claims(planned: Planned) -> Claims:
    """The ids the workload uses (arrived or still to arrive)."""
    claims = Claims()
    for name, count, named in planned.groups:
        if named:
            claims.add_id(name)
        else:
            claims.add_range(name, 1, count)
    return claims


class Intake:
    """What submissions have added to the run: how many jobs, their value, their ids."""

    __slots__ = ("claims", "jobs", "value")

    def __init__(self) -> None:
        self.jobs = 0
        self.value = 0
        self.claims = Claims()

    def to_json(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "value": self.value, **self.claims.to_json()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Intake:
        intake = cls()
        intake.jobs, intake.value = raw["jobs"], raw["value"]
        intake.claims.names = set(raw["names"])
        intake.claims.ranges = {p: [list(r) for r in ranges] for p, ranges in raw["ranges"].items()}
        return intake
