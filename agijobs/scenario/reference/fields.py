"""Where a reference value sits, and the readers that check it there.

`At` is a place in a reference file (the file and the key path inside it, in the reference's
own camelCase keys); `At.fail` raises the one `BadInput` every message of the translation
comes from. `Kind` names what a value must be (`COUNT`, `ID`, `SKILLS`...), and `need`,
`opt`, `either` and `checked` read a value and check it against a kind, so a wrong value is
reported where it is: ``fabric.json: nodes -> 2 -> capacity: must be a whole number > 0
(got 'x')``. Everything else in the package reads its values through these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ...errors import BadInput

_MAX_NAME = 200
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


@dataclass(frozen=True, slots=True)
class At:
    """A place in a reference file: the file and the key path inside it."""

    path: Path
    keys: tuple[str | int, ...] = ()

    def __truediv__(self, key: str | int) -> At:
        return At(self.path, (*self.keys, key))

    def __str__(self) -> str:
        where = " -> ".join(str(k) for k in self.keys) or "(top level)"
        return f"{self.path}: {where}"

    def fail(self, problem: str, hint: str) -> NoReturn:
        raise BadInput(f"{self}: {problem}", hint)


@dataclass(frozen=True, slots=True)
class Kind:
    what: str
    accepts: Callable[[Any], bool]
    example: str | None = None
    whole: bool = False

    @property
    def hint(self) -> str:
        return f"write {self.what}" + (f", e.g. {self.example}" if self.example else "")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def is_name(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_NAME and bool(_NAME.match(value))


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(is_name(v) for v in value)


OBJECT = Kind("an object", lambda v: isinstance(v, dict))
LIST = Kind("a list", lambda v: isinstance(v, list))
TEXT = Kind("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))
FLAG = Kind("true or false", lambda v: isinstance(v, bool), "true")
COUNT = Kind("a whole number > 0", lambda v: _is_whole(v) and v > 0, "12", whole=True)
WHOLE = Kind("a whole number >= 0", lambda v: _is_whole(v) and v >= 0, "0", whole=True)
INTEGER = Kind("a whole number", _is_whole, "10", whole=True)
NUMBER = Kind("a number > 0", lambda v: _is_number(v) and v > 0, "12")
AMOUNT = Kind("a number >= 0", lambda v: _is_number(v) and v >= 0, "0.0005")
ID = Kind("a name made of letters, digits and . _ : -", is_name, '"earth"')
IDS = Kind("a list of names (letters, digits and . _ : -)", _is_names, '["gpu", "vision"]')
SKILLS = Kind(
    "a non-empty list of names (letters, digits and . _ : -)",
    lambda v: _is_names(v) and bool(v),
    '["gpu", "vision"]',
)


def shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def checked(at: At, value: Any, kind: Kind) -> Any:
    if not kind.accepts(value):
        at.fail(f"must be {kind.what} (got {shown(value)})", kind.hint)
    return int(value) if kind.whole else value


def need(at: At, obj: dict[str, Any], key: str, kind: Kind) -> Any:
    value = obj.get(key)
    if value is None:
        example = f", e.g. {kind.example}" if kind.example else ""
        (at / key).fail("required key is missing", f"add `{key}` ({kind.what}{example})")
    return checked(at / key, value, kind)


def opt(at: At, obj: dict[str, Any], key: str, kind: Kind) -> Any:
    value = obj.get(key)
    return None if value is None else checked(at / key, value, kind)


def either(at: At, obj: dict[str, Any], key: str, alias: str) -> Any:
    """A reference key that the demo also accepted under an alias (`shard` / `shardId`)."""
    if obj.get(key) is None and obj.get(alias) is not None:
        return checked(at / alias, obj[alias], ID)
    if obj.get(alias) is not None and obj[alias] != obj.get(key):
        (at / alias).fail(f"disagrees with `{key}` ({obj.get(key)!r})", f"give `{key}` only")
    return need(at, obj, key, ID)


def ignore_unknown(at: At, obj: dict[str, Any], known: Collection[str], notes: list[str]) -> None:
    for key in obj:
        if key not in known:
            notes.append(f"{at / key}: ignored key; agijobs has no equivalent.")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:_MAX_NAME].strip("-")


def opt_label(at: At, obj: dict[str, Any], key: str) -> str | None:
    text = opt(at, obj, key, TEXT)
    if text is None:
        return None
    label = slug(text)
    if not label:
        (at / key).fail(
            f"has no letters or digits to make a label of (got {text!r})",
            'write a label with letters or digits, e.g. "mission-plan"',
        )
    return label
