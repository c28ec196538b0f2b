"""One root error; each subclass names a condition and carries its exit code.

The exit-code table is part of the CLI contract (README, "Exit codes"):

    0 ok · 1 expectations failed · 2 bad input · 3 integrity failure ·
    4 conflict (or a witness that cannot be written) · 5 refused by owner authority ·
    6 live runner did not acknowledge (or did not stop in time) ·
    130 / 143 a run stopped by SIGINT / SIGTERM, at a checkpoint (128 + the signal)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AgijobsError(Exception):
    """Root of every error the CLI turns into a message and an exit code."""

    exit_code = 1
    code = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The one-line form: what went wrong — what to do."""
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ExpectationFailed(AgijobsError):
    """The run finished but its `expect` block did not hold."""

    exit_code = 1
    code = "expectation-failed"


class BadInput(AgijobsError):
    """A file, option or command is invalid; nothing was written."""

    exit_code = 2
    code = "bad-input"


class IntegrityError(AgijobsError):
    """The event chain or checkpoint does not verify."""

    exit_code = 3
    code = "integrity"


class Conflict(AgijobsError):
    """The storage is busy, finished or in the wrong state for the request."""

    exit_code = 4
    code = "conflict"


class WitnessUnavailable(AgijobsError):
    """The witness `--witness` names cannot be opened or written: a run stops at its last
    durable checkpoint rather than go on with heads nobody outside the storage holds."""

    exit_code = 4
    code = "witness"


class Refused(AgijobsError):
    """Owner authority refused the command: unsigned, unknown key, bad signature, a role
    that may not issue it, a replayed signature."""

    exit_code = 5
    code = "refused"
    reason = "refused"  # the refusal's reason code, as recorded in `governance.refused`


class NotAcknowledged(AgijobsError):
    """A live runner did not acknowledge a queued command in time."""

    exit_code = 6
    code = "not-acknowledged"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ "; did you mean `x`?" for the closest of `choices`, or nothing when none is close:
    the tail of a message that names a mistyped key, command or id."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""
