"""Text from storage, printed: control characters shown in their escaped form."""

from __future__ import annotations

from agijobs.views.text import visible, visible_document


def test_control_characters_are_shown_not_obeyed() -> None:
    assert visible("x\x1b[31mred\x1b[0m\u202e\x07") == "x\\x1b[31mred\\x1b[0m\\u202e\\x07"
    assert visible("caf\udce9") == "caf\\udce9"  # printable even where stdout is strict
    assert visible("a\nb") == "a\\x0ab"
    assert visible("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"
    assert visible("plain ünïcödé") == "plain ünïcödé"


def test_every_string_of_a_document_keys_included() -> None:
    document = {"re\x1bason": ["\x9b", {"k": "\u2028"}], "n": 3, "f": None}
    assert visible_document(document) == {
        "re\\x1bason": ["\\x9b", {"k": "\\u2028"}],
        "n": 3,
        "f": None,
    }
