"""Owner commands from outside a scenario: an `agijobs apply` document, or a command's
options on the command line, validated with the same rules as schedule entries; and the
commands a live runner takes from its inbox and journals, held to those same rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from ..errors import BadInput
from ..fabric.authority import APPROVE
from ..fabric.commands import canonical_name
from ..fabric.inputs import BATCH, CommandInput
from ..ledger.canonical import dumps
from .base import Model, NonNegativeInt
from .commands import OwnerCommand
from .compile import command_args
from .documents import read_commands_document
from .limits import INT64_MAX
from .models import ApplyEntry
from .validation import is_union_tag, message_of, shown_input, validate

Part = tuple[str, dict[str, Any], str]  # (command, arguments, reason)


def parse_commands(
    path: Path, raw: Any, default_reason: str | None
) -> tuple[list[Part], list[str]]:
    """The commands of an `agijobs apply` document: one command, a list of them, or
    ``{commands: [...]}``; each in agijobs form (``command: NAME``, snake_case) or in the
    reference demo's form (``type: NAME``, camelCase). Nothing is applied here. Returns the
    commands and notices of what a reference-form command had that agijobs ignores."""
    entries = raw.get("commands") if isinstance(raw, dict) and "commands" in raw else raw
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise BadInput(
            f"{path}: expected a command, a list of commands or {{commands: [...]}}",
            "e.g. {command: shard.pause, shard: earth, reason: 'why'}",
        )
    parts: list[Part] = []
    notices: list[str] = []
    for i, entry in enumerate(entries):
        where = f"{path}: commands -> {i}"
        if not isinstance(entry, dict):
            raise BadInput(f"{where}: expected a mapping (got {entry!r})", "give one command")
        if isinstance(entry.get("command"), dict) and "type" in entry["command"]:
            entry = entry["command"]  # a reference schedule entry {tick, note, command}
        for key, fix in (
            ("tick", "apply runs commands now; scheduled commands belong in a scenario"),
            ("actor", "the actor is whoever runs apply: pass --actor"),
        ):
            if key in entry:
                raise BadInput(f"{where} -> {key}: not allowed here", fix)
        if "type" in entry and "command" not in entry:
            from .reference import command_from_reference

            entry, ignored = command_from_reference(path, i, entry)
            notices.extend(ignored)
        if default_reason and not entry.get("reason"):
            entry = {**entry, "reason": default_reason}
        model = validate(path, ApplyEntry, entry, prefix=("commands", str(i))).command
        parts.append((model.command, command_args(model), model.reason))
    return parts, notices


# Validator messages name scenario fields; on the command line the same rules name flags.
_FLAGS = {
    "`clear: true`": "--clear",
    "`to`": "--to",
    "`from`": "--from",
    "`job`": "--job",
    "`backlog`": "--backlog",
    "to/backlog/job": "--to/--backlog/--job",
    "clear restores": "--clear restores",
}


def validate_command(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate CLI input for an owner command with the same rules as schedule entries."""
    from pydantic import TypeAdapter

    raw = {**raw, "command": canonical_name(raw.get("command"))}
    try:
        model = TypeAdapter(OwnerCommand).validate_python(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"] if not is_union_tag(p)]
            option = f"--{loc[-1].replace('_', '-')}: " if loc else ""
            message = message_of(error)
            for field, flag in _FLAGS.items():
                message = message.replace(field, flag)
            got = error.get("input")
            shown = f" (got {shown_input(got)})" if loc and not isinstance(got, dict) else ""
            problems.append(f"{option}{message}{shown}")
        raise BadInput(
            "; ".join(problems), "see `agijobs " + str(raw["command"]) + " --help`"
        ) from None
    return command_args(model)


def reroute_args(
    reason: str,
    source: str,
    target: str | None,
    backlog: str | int | None,
    job: str | None,
    clear: bool,
) -> dict[str, Any]:
    """`reroute`'s arguments from its command-line options, validated."""
    raw: dict[str, Any] = {"command": "reroute", "from": source, "reason": reason}
    if clear:
        raw["clear"] = True
    for name, value in (("to", target), ("job", job)):
        if value is not None:
            raw[name] = value
    if backlog is not None:
        raw["backlog"] = backlog if backlog == "all" else _backlog_count(str(backlog))
    return validate_command(raw)


def _backlog_count(text: str) -> int:
    # ASCII digits only: str.isdigit() also takes "²", which int() does not.
    if not (text.isascii() and text.isdigit()):
        raise BadInput(
            f"--backlog: expected 'all' or a whole number of jobs, 0 or more "
            f"(got {shown_input(text)})",
            "e.g. --backlog 500",
        )
    if len(text) > 19 or int(text) > INT64_MAX:  # int() is never asked for 5,000 digits
        raise BadInput(
            f"--backlog: more jobs than a shard can hold (at most {INT64_MAX}; got a number "
            f"of {len(text)} digits)",
            "--backlog all moves every queued job the target can take",
        )
    return int(text)


def commands_from_document(
    label: Path, data: bytes | None, default_reason: str | None
) -> tuple[str, dict[str, Any], str, list[str]]:
    """An `agijobs apply` document (read from `label`, or `data` already read) as the one
    command to issue: a single command, or a batch of several applied together. Returns
    its name, arguments and reason, and notices of what reference-form commands had that
    agijobs ignores."""
    raw = read_commands_document(label, data)
    parts, notices = parse_commands(label, raw, default_reason)
    if len(parts) == 1:
        name, args, why = parts[0]
    else:
        name, why = BATCH, f"{len(parts)} commands applied together"
        args = {"commands": [{"command": n, "args": a, "reason": r} for n, a, r in parts]}
    return name, args, why, notices


# ------------------------------------------------------------------ issued commands


class IssuedCommand(Model):
    """An owner command as `agijobs` hands it to a live runner (`run.delivery`): what its
    inbox and its journal hold. JSON types as written, no coercion."""

    model_config = ConfigDict(strict=True)

    command: str
    args: dict[str, Any]
    reason: str
    actor: str
    issued_at: str
    issued_ns: NonNegativeInt
    id: str | None = None  # the inbox's id for it, added by the store
    auth: CommandAuth | None = None  # its signatures, on a fabric with owner keys


class Signature(Model):
    """One key's signature of a command (`run.keys.signed_auth`)."""

    model_config = ConfigDict(strict=True)

    key: str
    fingerprint: str
    signature: str


class CommandAuth(Model):
    """A command's `auth`: as issued, its run id, nonce and signatures; once authorized (as
    the log records it), the nonce and the names of the keys that signed. Nothing else: a
    field no signer writes is refused, never carried into the log."""

    model_config = ConfigDict(strict=True)

    run_id: str | None = None
    nonce: str | None = None
    signatures: list[Signature] | None = None
    signed_by: list[str] | None = None


class BatchPart(Model):
    model_config = ConfigDict(strict=True)

    command: str
    args: dict[str, Any]
    reason: str


class BatchArgs(Model):
    """`agijobs apply`'s commands applied together (`commands_from_document`)."""

    commands: list[BatchPart] = Field(min_length=1)


class ApproveArgs(Model):
    """`agijobs approve`: the proposal it signs."""

    model_config = ConfigDict(strict=True)

    proposal: str = Field(min_length=1)


def check_issued(
    raw: Any, label: str, base: Sequence[str] = (), command_id: str | None = None
) -> None:
    """Raise `BadInput` naming `label` and the field unless `raw` is an owner command as
    `agijobs` issues one to a live runner (`base`: where `raw` sits in its document;
    `command_id`: the id the inbox gave it). Its arguments are held to the rules the command
    line applies before sending it — the command's model, as `validate_command` and
    `parse_commands` use it — and must be exactly what those give (`command_args`): what a
    runner applies is what was validated, never a coerced look-alike."""
    issued = validate(label, IssuedCommand, raw, prefix=base)
    if command_id is not None and issued.id is not None and issued.id != command_id:
        at_id = " -> ".join([*base, "id"])
        raise BadInput(f"{label}: {at_id}: {issued.id!r} is not the inbox's id {command_id!r}")
    check_command_args(label, base, issued.command, issued.args, issued.reason)


class RecordedCommand(Model):
    """An owner command as an event records it (`CommandInput.to_json`)."""

    model_config = ConfigDict(strict=True)

    command: str
    args: dict[str, Any]
    reason: str
    actor: str
    source: Literal["live", "at-rest", "schedule"]
    issued_at: str | None = None
    id: str | None = None
    auth: CommandAuth | None = None


def recorded_command(raw: Any, label: str, base: Sequence[str] = ()) -> CommandInput:
    """An owner command as the log records it, held to the same rules as `check_issued`
    (`base`: where it sits in its event): a verifier re-applies a recorded command only
    through this, so a value the command line refuses (``ms: -5``) is never applied from
    storage. Raises `BadInput` naming `label` and the field."""
    recorded = validate(label, RecordedCommand, raw, prefix=base)
    check_command_args(label, base, recorded.command, recorded.args, recorded.reason)
    return CommandInput.from_json(raw)


def check_command_args(
    label: str, base: Sequence[str], name: str, args: dict[str, Any], reason: str
) -> None:
    """A command's arguments as the command line gives them, or `BadInput` naming the field:
    a batch's every part, `approve`'s proposal, any other command's model."""
    at_args = [*base, "args"]
    if name == BATCH:
        batch = validate(label, BatchArgs, args, prefix=at_args)
        for i, part in enumerate(batch.commands):
            at_part = [*at_args, "commands", str(i)]
            _check_args(label, at_part, part.command, part.args, part.reason)
    elif name == APPROVE:
        validate(label, ApproveArgs, args, prefix=at_args)
    else:
        _check_args(label, list(base), name, args, reason)


def _check_args(label: str, base: list[str], name: str, args: dict[str, Any], reason: str) -> None:
    def place(loc: list[str], kind: str) -> list[str]:
        rest = loc[1:]  # after ApplyEntry's `command`
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            return [*base, "command"]
        if rest[:1] == ["reason"]:
            return [*base, "reason"]
        return [*base, "args", *rest]

    body = {**args, "command": name, "reason": reason}
    model = validate(label, ApplyEntry, {"command": body}, prefix=(), place=place).command
    written = command_args(model)
    if dumps(written) == dumps(args):
        return
    key = next(
        k
        for k in sorted({*args, *written})
        if k not in args or k not in written or dumps(args[k]) != dumps(written[k])
    )
    where = " -> ".join([*base, "args", key])
    got = args.get(key)
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    if key not in args:
        raise BadInput(f"{label}: {where}: missing (`agijobs {name}` gives {written[key]!r})")
    if key not in written:
        raise BadInput(f"{label}: {where}: not an argument `agijobs {name}` gives{shown}")
    raise BadInput(f"{label}: {where}: not in the form `agijobs {name}` gives it{shown}")
