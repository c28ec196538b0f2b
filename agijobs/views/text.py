"""Text from storage, made safe to print: every control character in its visible form.

A reason recorded by one operator is printed on another's terminal by `status`, `audit`
and the live views; what `agijobs.scenario.text` refuses at input may still be in older
storage, or in a file written by hand. Printing `\\x1b` instead of ESC shows the evidence
rather than obeying it.
"""

from __future__ import annotations

from typing import Any

from ..scenario.text import UNSHOWABLE, escaped


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with each control character escaped (\\x1b, \\u202e); `keep_newlines` keeps
    the line ends of a message of several lines."""
    if keep_newlines:
        return "\n".join(visible(line) for line in text.split("\n"))
    return UNSHOWABLE.sub(lambda found: escaped(found.group()), text)


def visible_document(value: Any) -> Any:
    """`value` (a document: dicts, lists, strings, numbers) with every string visible,
    keys included."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_document(k): visible_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_document(item) for item in value]
    return value
