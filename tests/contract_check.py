"""Every JSON document the suite's command lines print is held against its published schema
(agijobs.contract): a pytest plugin, loaded by tests/conftest.py.

It wraps `CliRunner.invoke` (Typer's and Click's: the in-process CLI every test uses,
directly or through tests.helpers.cli) for the whole session, and `check_output` is called
by the helpers that run the CLI in a child process (tests.helpers.agijobs, the runbook and
docs runner). A
document of a kind with no schema fails, as does one that does not match its schema: a new
command, or a field added to a document, needs its schema first (docs/json-contract.md).
NDJSON streams are held line by line: each line by its kind, or, for an events.ndjson
line, by its event type.

It also wraps the recorder (`agijobs.run.recorder.Recorder.write`), through which every
event a run in this process writes passes: each event of a rare type (owner, governance,
executor, fault, trigger) and the first events of every other type are held to their type's
schema, so the event types no shipped scenario produces are checked where the tests make
them (tests/test_contract.py checks every event of the shipped scenarios).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import jsonschema
import orjson
import pytest
from click.testing import CliRunner as ClickRunner
from typer.testing import CliRunner as TyperRunner

from agijobs import contract
from agijobs.run.recorder import Recorder


class ContractBroken(AssertionError):
    pass


@functools.cache
def _validator(name: str) -> Any:
    schema = contract.schema(name)
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema)


def check_document(document: Any, where: str = "output") -> None:
    """Hold one JSON document (a --json output, or an events.ndjson line) to its schema."""
    if not isinstance(document, dict):
        raise ContractBroken(f"{where}: a JSON document that is not an object: {document!r}")
    if "api_version" in document:
        name = document.get("kind")
        what = f"kind {name!r}"
    elif {"seq", "type", "hash"} <= document.keys():
        name = document["type"]
        what = f"event type {name!r}"
    else:
        raise ContractBroken(
            f"{where}: a JSON document with neither api_version and kind nor an event's "
            f"seq, type and hash: {sorted(document)}"
        )
    validator = _validator(str(name))
    _seen.add(str(name))
    if validator is None:
        raise ContractBroken(
            f"{where}: no published schema for {what}: add agijobs/contract/kinds/<kind>.py "
            "(or the event type to agijobs/contract/events.py); see docs/json-contract.md"
        )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  {'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.message}"
            for error in errors[:5]
        ]
        raise ContractBroken(
            f"{where}: the {what} document does not match its schema "
            f"(`agijobs schema {name}`):\n" + "\n".join(lines)
        )


@functools.cache
def _data_validator(event_type: str) -> Any:
    if event_type not in contract.EVENT_TYPES:
        return None
    _, data = contract.event_data_schema(event_type)
    return jsonschema.Draft202012Validator(data)


_seen: set[str] = set()  # kinds and event types held to their schemas this session


RARE = ("owner.", "governance.", "executor.", "fault.", "trigger.")
SAMPLE = 50  # events of each frequent type checked per session (they have one shape each)
_checked: dict[str, int] = {}


def check_event(kind: str, data: Any) -> None:
    """Hold one event's `data`, as the recorder is given it, to its type's schema."""
    count = _checked.get(kind, 0)
    if count >= SAMPLE and not kind.startswith(RARE):
        return
    _checked[kind] = count + 1
    _seen.add(kind)
    validator = _data_validator(kind)
    if validator is None:
        raise ContractBroken(
            f"event type {kind!r} has no published schema: add it to DATA in "
            "agijobs/contract/events.py (docs/json-contract.md)"
        )
    error = next(iter(validator.iter_errors(data)), None)
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(data)"
        raise ContractBroken(
            f"a {kind} event does not match its schema (`agijobs schema {kind}`): "
            f"data/{where}: {error.message}"
        )


def json_documents(stdout: str) -> Iterator[Any]:
    """The documents of a command's stdout: one (pretty-printed or not), or one a line."""
    text = stdout.strip()
    try:
        yield orjson.loads(text)
        return
    except orjson.JSONDecodeError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ContractBroken(
                f"stdout line {number} is not JSON (--json prints JSON only): {line[:200]!r}"
            ) from None


def check_output(args: Sequence[str], stdout: str) -> None:
    """Hold what a command printed to the contract: with --json, stdout must be versioned
    JSON documents of published kinds; without it, a versioned document is held all the
    same (anything else is not a --json output: a schema, a witness record, text)."""
    if not stdout.strip():
        return
    if "--json" in args:
        for document in json_documents(stdout):
            check_document(document, f"agijobs {' '.join(args)}")
        return
    if stdout.lstrip().startswith("{") and '"api_version"' in stdout:
        for document in json_documents(stdout):
            if isinstance(document, dict) and "api_version" in document:
                check_document(document, f"agijobs {' '.join(args)}")


def _checking(invoke: Any) -> Any:
    def checked(self: Any, cli: Any, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        result = invoke(self, cli, args, *rest, **kwargs)
        argv = args.split() if isinstance(args, str) else list(args or ())
        try:
            stdout = result.stdout
        except ValueError:  # output not captured apart
            return result
        check_output([str(a) for a in argv], stdout)
        return result

    return checked


@pytest.fixture(autouse=True, scope="session")
def _every_cli_output_keeps_the_contract() -> Iterator[None]:
    write = Recorder.write

    def recorded(self: Recorder, tick: int, events: list[tuple[str, Any]]) -> None:
        for kind, data in events:
            check_event(kind, data)
        write(self, tick, events)

    with pytest.MonkeyPatch.context() as patch:
        # Typer's runner has an invoke of its own (not Click's): both are held.
        for runner in (ClickRunner, TyperRunner):
            if "invoke" in vars(runner):
                patch.setattr(runner, "invoke", _checking(vars(runner)["invoke"]))
        patch.setattr(Recorder, "write", recorded)
        yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which schemas this session's documents and events exercised (none: nothing said)."""
    if not _seen:
        return
    names = [*contract.kind_names(), *contract.EVENT_TYPES]
    unseen = [name for name in names if name not in _seen]
    terminalreporter.write_line(
        f"contract: {len(names) - len(unseen)} of {len(names)} kinds and event types held "
        "to their schemas"
        + (f"; not exercised: {', '.join(unseen)}" if 0 < len(unseen) <= 10 else "")
    )
