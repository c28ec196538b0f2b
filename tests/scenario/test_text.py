"""Text that is recorded and printed again: control characters and bytes that are not
UTF-8 are refused with where they are."""

from __future__ import annotations

import pytest

from agijobs.scenario.text import text_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x\x1b[2J", "contains the control character \\x1b at character 2"),
        ("\t", "contains the control character \\x09 at character 1"),
        ("a\nb", "contains the control character \\x0a at character 2"),
        ("\x7f", "contains the control character \\x7f at character 1"),
        ("\x9b", "contains the control character \\x9b at character 1"),
        ("ab\u2028", "contains the control character \\u2028 at character 3"),
        ("\u2029", "contains the control character \\u2029 at character 1"),
        ("\u202e", "contains the control character \\u202e at character 1"),
        ("\u2066", "contains the control character \\u2066 at character 1"),
        ("\u200f", "contains the control character \\u200f at character 1"),
        ("\u061c", "contains the control character \\u061c at character 1"),
        ("caf\udce9", "is not valid UTF-8 (byte 0xe9 at character 4)"),
        ("\ud800", "is not valid UTF-8 (a lone surrogate \\ud800 at character 1)"),
    ],
)
def test_unfit_text_is_named(text: str, problem: str) -> None:
    assert text_problem(text) == problem


@pytest.mark.parametrize(
    "text", ["Helios GPU thermal recalibration", "ünïcödé ✓ 日本語", "[/bold] as written", "👩‍🚀"]
)
def test_plain_text_is_fit(text: str) -> None:
    # Zero-width joiners (in the astronaut) and brackets are text, not instructions.
    assert text_problem(text) is None
