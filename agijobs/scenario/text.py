"""Text that people write and others read later: reasons, actors, names and notes.

What is recorded is printed again by `status`, `audit` and the reports, on someone else's
terminal. A control character there is not text but an instruction: ESC starts a terminal
sequence (colours, a new window title, a cleared screen), U+202E turns the rest of a line
around, U+2028 ends a line where none is shown. Such characters are refused where text
comes in, and escaped where text from storage goes out (`agijobs.views.text`), so
evidence reads as it was written. A lone surrogate is what Python makes of bytes that
are not UTF-8 (in argv, say): it cannot be stored as UTF-8 at all.
"""

from __future__ import annotations

import re

# C0 (tab and newline included: a reason is one line), DEL, C1, the line and paragraph
# separators, the bidirectional controls, and lone surrogates.
UNSHOWABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def escaped(char: str) -> str:
    """The visible form of one character: \\x1b, \\u202e."""
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def text_problem(text: str) -> str | None:
    """What makes `text` unfit to record ("contains the control character \\x1b at
    character 3"), or None when it is fit."""
    found = UNSHOWABLE.search(text)
    if found is None:
        return None
    char, at = found.group(), found.start() + 1
    if "\udc80" <= char <= "\udcff":  # how Python keeps a byte that is not UTF-8
        return f"is not valid UTF-8 (byte 0x{ord(char) - 0xDC00:02x} at character {at})"
    if "\ud800" <= char <= "\udfff":
        return f"is not valid UTF-8 (a lone surrogate {escaped(char)} at character {at})"
    return f"contains the control character {escaped(char)} at character {at}"
