"""Reading YAML and JSON documents: bytes to plain data, every error naming the file and
where in it.

A document is JSON data, whichever the syntax: mappings with string keys, lists, strings,
numbers, booleans and null. The YAML types JSON lacks (`!!binary`, `!!set`, `!!omap`,
`!!pairs`) are refused and timestamps stay the strings they were written as. Limits keep
any input from taking the process down: a file is read only when it is a regular file (a
FIFO would block forever, /dev/zero never ends) of at most `MAX_DOCUMENT_BYTES`; nesting
deeper than `MAX_DEPTH` levels is refused before the recursion it would cost, and YAML
aliases may not expand a document beyond `MAX_NODES` values (the "billion laughs").
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import Any

import orjson

from ..errors import BadInput
from .limits import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES

# A 64-bit integer has at most 20 digits; far longer ones are refused while parsing (Python
# refuses to convert more than 4300 digits at all), shorter ones by the model that names
# the key.
_MAX_INTEGER_CHARS = 100

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_input_file(path: Path, label: str | None = None) -> bytes:
    """The bytes of the regular file at `path`; BadInput naming `label` (default: the path)
    for anything else. A FIFO or device is refused unopened (opening one may block, or do
    something: a tape rewinds, a watchdog arms); the file is then opened without blocking
    and checked again on its descriptor, in case it was swapped in between."""
    named = label or str(path)
    try:
        _check_regular(os.stat(path).st_mode, named)
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BadInput(f"{named}: no such file", "check the path") from None
    except OSError as exc:
        raise BadInput(f"{named}: cannot read ({exc.strerror})", "check the path") from None
    except ValueError:  # a NUL in the path (possible from the library, not from a shell)
        raise BadInput(
            f"{named}: not a path (it holds a NUL character)", "check the path"
        ) from None
    try:
        _check_regular(os.fstat(descriptor).st_mode, named)
        return _read_at_most(descriptor, named)
    except OSError as exc:
        raise BadInput(f"{named}: cannot read ({exc.strerror})", "check the path") from None
    finally:
        os.close(descriptor)


def _check_regular(mode: int, named: str) -> None:
    if stat.S_ISDIR(mode):
        raise BadInput(f"{named}: is a directory", "name a file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise BadInput(f"{named}: not a regular file ({kind})", "pass a file saved on disk")


def _read_at_most(descriptor: int, named: str) -> bytes:
    # Read to the end rather than trust st_size (files in /proc say 0), but never past the
    # limit: a file that grows while being read cannot take all memory either.
    parts = []
    size = 0
    while chunk := os.read(descriptor, 1 << 20):
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise BadInput(
                f"{named}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
                "a scenario describes its jobs by group (`count`), not one by one",
            )
        parts.append(chunk)
    return b"".join(parts)


def read_document(path: Path) -> Any:
    return parse_document(path, read_input_file(path))


def read_commands_document(path: Path, data: bytes | None) -> Any:
    """An `agijobs apply` document: from `path`, or `data` already read (stdin)."""
    return read_document(path) if data is None else parse_document(path, data)


def parse_document(path: Path, data: bytes) -> Any:
    """YAML or JSON bytes (JSON when `path` ends in .json) as plain data."""
    if len(data) > MAX_DOCUMENT_BYTES:  # read from standard input
        raise BadInput(
            f"{path}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
            "a scenario describes its jobs by group (`count`), not one by one",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    if not text.strip():
        raise BadInput(
            f"{path}: the file is empty",
            "write a scenario or command (see docs/scenario-format.md)",
        )
    if path.suffix.lower() == ".json":
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadInput(
                f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})",
                "fix the JSON syntax",
            ) from None
        if _deeper_than(document, MAX_DEPTH):
            raise BadInput(f"{path}: nested deeper than {MAX_DEPTH} levels", "flatten the document")
        return document
    import yaml

    try:
        return yaml.load(text, Loader=_json_data_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{path}: {where}invalid YAML ({problem})", "fix the YAML syntax") from None


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether lists and mappings nest more than `limit` levels (without recursing)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


@functools.cache
def _json_data_loader() -> Any:
    """A SafeLoader for JSON data (see the module's docstring) that also refuses a key
    given twice in one mapping (YAML keeps the last), nesting deeper than MAX_DEPTH and
    aliases that expand the document beyond MAX_NODES values."""
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError
    from yaml.events import AliasEvent, ScalarEvent

    timestamp = "tag:yaml.org,2002:timestamp"

    class JsonDataLoader(yaml.SafeLoader):
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self.depth = 0
            self.values = 0  # values composed so far, each alias counted as what it expands to
            self.sizes: dict[int, int] = {}  # by id(node): the values it holds, itself included

        def compose_node(self, parent: Any, index: Any) -> Any:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            if self.check_event(AliasEvent):
                node = super().compose_node(parent, index)
                size = self.sizes.get(id(node))
                if size is None:  # still being composed: it would contain itself
                    raise ComposerError(None, None, "an alias inside its own anchor", mark)
                self._count(size, mark)
                return node
            self.depth += 1
            if self.depth > MAX_DEPTH and not self.check_event(ScalarEvent):
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            before = self.values
            self._count(1, mark)
            node = super().compose_node(parent, index)
            self.depth -= 1
            self.sizes[id(node)] = self.values - before
            return node

        def _count(self, values: int, mark: Any) -> None:
            self.values += values
            if self.values > MAX_NODES:
                raise ComposerError(
                    None, None, f"aliases expand the document beyond {MAX_NODES:,} values", mark
                )

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, str | int | float | bool | None):
                    raise ConstructorError(
                        None, None, "a key must be a string", key_node.start_mark
                    )
                if key in seen:
                    raise ConstructorError(
                        None, None, f"duplicate key `{key}`", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def scalar(name: str, construct: Any) -> Any:
        """The constructor of `!!name`, refusing what it cannot read (as `!!int x`) with
        the place, rather than with Python's ValueError."""

        def checked(loader: Any, node: Any) -> Any:
            try:
                return construct(loader, node)
            except (ValueError, KeyError, IndexError) as error:
                raise ConstructorError(
                    None, None, f"not a valid !!{name} ({node.value!r})", node.start_mark
                ) from error

        return checked

    def construct_int(loader: Any, node: Any) -> Any:
        if len(node.value) > _MAX_INTEGER_CHARS:
            raise ConstructorError(
                None,
                None,
                f"an integer of {len(node.value)} characters; integers are at most 64 bits",
                node.start_mark,
            )
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    def as_written(loader: Any, node: Any) -> Any:
        return loader.construct_scalar(node)

    def refuse(loader: Any, node: Any) -> Any:
        raise ConstructorError(
            None,
            None,
            f"the YAML type {node.tag.replace('tag:yaml.org,2002:', '!!')} is not JSON data "
            "(use mappings, lists, strings, numbers, booleans and null)",
            node.start_mark,
        )

    JsonDataLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != timestamp]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for name, construct in (
        ("int", construct_int),
        ("float", yaml.SafeLoader.construct_yaml_float),
        ("bool", yaml.SafeLoader.construct_yaml_bool),
    ):
        JsonDataLoader.add_constructor(f"tag:yaml.org,2002:{name}", scalar(name, construct))
    JsonDataLoader.add_constructor(timestamp, as_written)
    for name in ("binary", "set", "omap", "pairs"):
        JsonDataLoader.add_constructor(f"tag:yaml.org,2002:{name}", refuse)
    return JsonDataLoader
