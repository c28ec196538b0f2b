"""The journal of live commands as a runner takes them and as `runner start` reads them back.

The store verifies each entry's frame and chain (`agijobs.ledger.journal`). Here the
journal is held against the checkpoint, and every command in it against the rules the
command line applies before it sends one (`scenario.command_input.check_issued`): a live
runner journals only commands that pass them, so `runner start` refuses — before anything is
applied or written — an entry it has not applied yet that does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BadInput, IntegrityError
from ..ledger.journal import HINT
from ..store import Store
from ..store.files import JOURNAL

if TYPE_CHECKING:
    from ..fabric.engine import Engine
    from ..scenario.plan import Plan

_NOT_ISSUED = "no agijobs command issues this, so the journal was altered; restore it from a backup"


def pending_entries(
    store: Store, journal: list[dict[str, Any]], engine: Engine, plan: Plan
) -> list[dict[str, Any]]:
    """The verified `journal`'s entries that the checkpoint `engine` was restored from has
    not applied yet, each checked as its command was when it was issued. Raises
    `IntegrityError` naming the journal's line."""
    name = f"{store.location}/{JOURNAL}"
    applied, tick = engine.state.journal_applied, engine.state.tick
    if len(journal) < applied:
        raise IntegrityError(
            f"{name}: holds {len(journal)} entries, but the checkpoint has applied {applied} "
            "(entries removed)",
            HINT,
        )
    if applied and journal[applied - 1]["tick"] > tick:
        raise IntegrityError(
            f"{name} line {applied}: tick {journal[applied - 1]['tick']} is after the "
            f"checkpoint's tick {tick}, which has applied it",
            HINT,
        )
    pending = journal[applied:]
    last_tick = plan.inputs.max_ticks
    for number, entry in enumerate(pending, applied + 1):
        where = f"{name} line {number}"
        if entry["tick"] <= tick:
            raise IntegrityError(
                f"{where}: tick {entry['tick']} is not after the checkpoint's tick {tick}, "
                "which has not applied it",
                HINT,
            )
        if entry["tick"] > last_tick:
            raise IntegrityError(
                f"{where}: tick {entry['tick']} is after the run's last tick {last_tick}", HINT
            )
        try:
            _check(entry["command"], where, ("command",), entry["id"])
        except BadInput as error:
            raise IntegrityError(error.message, _NOT_ISSUED) from None
    return pending


def refusal(raw: Any, command_id: str) -> str | None:
    """Why a live runner will not take a command from its inbox (None: it takes it): the
    checks `runner start` holds a journaled command to, so a journal holds only commands that
    pass them."""
    try:
        _check(raw, f"command {command_id}", (), command_id)
    except BadInput as error:
        return error.message
    return None


def _check(raw: Any, label: str, base: tuple[str, ...], command_id: str) -> None:
    from ..scenario.command_input import check_issued  # pydantic: only once a command comes

    check_issued(raw, label, base, command_id)
