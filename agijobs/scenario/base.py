"""The building blocks of every scenario model: one strict base and the constrained types.

Numbers are strict: `slots: true`, `slots: "6"` and `slots: 6.0` are refused, not coerced
(a whole number is written without a decimal point, in YAML and JSON alike), and a float
is finite (`.inf` and `.nan` are refused). Every integer fits in 64 bits, the range the
canonical encoding keeps exactly; a tick or a number of ticks is at most MAX_TICKS.
Text that is printed again later (reasons, actors, names, notes) holds no control
characters (`agijobs.scenario.text`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .limits import INT64_MAX, MAX_NAME_CHARS, MAX_PRICE_PER_JOB, MAX_TICKS, NAME_PATTERN
from .text import text_problem

Int = Annotated[int, Field(strict=True, ge=-INT64_MAX - 1, le=INT64_MAX)]
PositiveInt = Annotated[int, Field(strict=True, gt=0, le=INT64_MAX)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
Tick = Annotated[int, Field(strict=True, ge=1, le=MAX_TICKS)]
Ticks = Annotated[int, Field(strict=True, gt=0, le=MAX_TICKS)]  # a span: a duration, a period
Amount = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Ratio = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
Price = Annotated[float, Field(strict=True, ge=0, le=MAX_PRICE_PER_JOB, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]


def _showable(text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise ValueError(f"{problem}; write plain text on one line")
    return text


Name = Annotated[
    str,
    Field(strict=True, min_length=1, max_length=MAX_NAME_CHARS, pattern=NAME_PATTERN),
]
Skills = Annotated[list[Name], Field(min_length=1)]
# Free text that is recorded and printed again: a reason, an actor, a display name, a note.
Text = Annotated[str, Field(strict=True), AfterValidator(_showable)]
RequiredText = Annotated[str, Field(strict=True, min_length=1), AfterValidator(_showable)]


def _json_data(value: Any) -> Any:
    """Refuse what the canonical encoding cannot keep exactly: an integer beyond 64 bits,
    a float that is not finite, a key that is not a string, nesting deeper than a document
    may have. (Documents from files are JSON data already; this holds the library too.)"""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        where = " -> ".join(path) + ": " if path else ""
        if len(path) > 32:
            raise ValueError(f"{where}nested deeper than 32 levels")
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not -INT64_MAX - 1 <= item <= INT64_MAX:
                raise ValueError(f"{where}an integer beyond 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{where}a number that is not finite ({item})")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"{where}a key that is not a string ({key!r})")
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, str(i))) for i, child in enumerate(item))
        else:
            raise ValueError(f"{where}not JSON data ({type(item).__name__})")
    return value


# What operators keep beside the fabric (deployment, zones, compliance): shown, not used.
Metadata = Annotated[dict[str, Any], AfterValidator(_json_data)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
