"""Reading documents: regular files only, and YAML/JSON held to JSON data within limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agijobs.errors import BadInput
from agijobs.scenario import documents
from agijobs.scenario.documents import parse_document, read_input_file
from agijobs.scenario.limits import MAX_DEPTH


def refusal(path: Path, data: bytes | None = None) -> str:
    with pytest.raises(BadInput) as caught:
        if data is None:
            read_input_file(path)
        else:
            parse_document(path, data)
    return caught.value.message


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: x\n" * 100_000)
    assert read_input_file(path) == b"name: x\n" * 100_000


def test_a_fifo_is_refused_unread_without_blocking(tmp_path: Path) -> None:
    # No writer ever opens it: a blocking open would wait forever.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert refusal(fifo) == f"{fifo}: not a regular file (a named pipe)"


def test_a_device_is_refused_unread() -> None:
    assert refusal(Path("/dev/zero")) == "/dev/zero: not a regular file (a character device)"


def test_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    assert refusal(tmp_path) == f"{tmp_path}: is a directory"
    assert refusal(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"


def test_a_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1 << 20)
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * ((1 << 20) + 1))
    assert refusal(path) == f"{path}: larger than 1 MiB"
    path.write_bytes(b"#" * (1 << 20))
    assert len(read_input_file(path)) == 1 << 20


def nested(depth: int, json: bool) -> bytes:
    inner = "[" * depth + "]" * depth
    return (f'{{"x": {inner}}}' if json else f"x: {inner}\n").encode()


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_is_held_to_max_depth(suffix: str) -> None:
    path = Path(f"s{suffix}")
    json = suffix == ".json"
    # The top-level mapping is one level; MAX_DEPTH - 1 lists fit inside it.
    assert parse_document(path, nested(MAX_DEPTH - 1, json)) is not None
    message = refusal(path, nested(MAX_DEPTH, json))
    assert message.endswith(f"nested deeper than {MAX_DEPTH} levels") or message.endswith(
        f"invalid YAML (nested deeper than {MAX_DEPTH} levels)"
    )


def test_aliases_are_fine_until_they_expand_too_far() -> None:
    used = b"skills: &gpu [gpu, cuda]\nother: *gpu\n"
    assert parse_document(Path("s.yaml"), used) == {
        "skills": ["gpu", "cuda"],
        "other": ["gpu", "cuda"],
    }
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    message = refusal(Path("s.yaml"), "\n".join(lines).encode())
    assert "invalid YAML (aliases expand the document beyond 4,000,000 values)" in message


def test_yaml_is_read_as_json_data() -> None:
    assert parse_document(Path("s.yaml"), b"at: 2024-01-01\nn: !!int 7\n") == {
        "at": "2024-01-01",  # a timestamp stays the text it was written as
        "n": 7,
    }
    for text, problem in (
        (b"x: !!binary aGk=\n", "the YAML type !!binary is not JSON data"),
        (b"x: !!set {a}\n", "the YAML type !!set is not JSON data"),
        (b"x: !!pairs [{a: 1}]\n", "the YAML type !!pairs is not JSON data"),
        (b"x: !!int 0x\n", "not a valid !!int ('0x')"),
        (b"? [a]\n: b\n", "a key must be a string"),
        (b"x: &x [*x]\n", "an alias inside its own anchor"),
        (b"x: " + b"1" * 101 + b"\n", "an integer of 101 characters"),
    ):
        assert problem in refusal(Path("s.yaml"), text), text
