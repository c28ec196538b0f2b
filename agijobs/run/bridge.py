"""Executors: who runs the jobs the routers assign. In process, or an external bridge.

The in-process executor accepts every dispatch with the job's own duration and costs
nothing: the engine never even collects its dispatches. The bridge executor talks to a child
process over JSON lines (bridge/PROTOCOL.md): a handshake, then one request per tick carrying
that tick's dispatches and governance commands, answered by one response with a receipt per
dispatch and a payload per command.

Failure handling is the runner's: each call has a timeout; a timed-out, crashed or garbled
child is restarted and the same request re-sent (requests are idempotent: job + attempt is
the key), after a backoff that doubles each time with jitter drawn from the scenario's seed,
so a replay waits the same way. After the last retry the run stops with an error naming what
went wrong. Nothing here reaches the event log except the receipts the engine is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from ..errors import AgijobsError, BadInput

PROTOCOL = 1
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 3
MAX_LINE = 8 * 1024 * 1024
log = logging.getLogger("agijobs.bridge")


class ExecutorFailed(AgijobsError):
    """The external executor did not answer correctly after every retry."""

    exit_code = 4
    code = "executor"


@dataclass(slots=True)
class BridgeSettings:
    command: list[str]
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = 0.05  # first retry delay, in seconds; doubles each retry
    max_line: int = MAX_LINE
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, command: str | None, timeout: float | None) -> BridgeSettings:
        text = command or os.environ.get("AGIJOBS_BRIDGE")
        if not text:
            raise BadInput(
                "--executor bridge: no bridge command",
                'set AGIJOBS_BRIDGE (e.g. AGIJOBS_BRIDGE="node bridge/bridge.mjs") or pass '
                "--bridge CMD",
            )
        return cls(shlex.split(text), timeout if timeout is not None else DEFAULT_TIMEOUT)


class _Garbled(Exception):
    """The child wrote something that is not a valid answer (the message names the line)."""


class BridgeExecutor:
    """A child process answering one request per tick; restarted when it fails."""

    def __init__(self, settings: BridgeSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.line_number = 0  # lines read from this child's stdout
        self.identity: dict[str, Any] = {}
        self.restarts = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> dict[str, Any]:
        """Start the child and shake hands; a protocol mismatch is `BadInput`."""
        answer = self._call({"op": "hello", "id": "hello", "protocol": PROTOCOL}, "hello")
        if answer.get("protocol") != PROTOCOL or not answer.get("ok"):
            self.close()
            raise BadInput(
                f"bridge `{shlex.join(self.settings.command)}` speaks protocol "
                f"{answer.get('protocol')!r}, agijobs speaks {PROTOCOL}"
                + (f" ({answer['error']})" if answer.get("error") else ""),
                "use a bridge for protocol 1 (see bridge/PROTOCOL.md)",
            )
        self.identity = {k: answer.get(k) for k in ("name", "version", "protocol")}
        return self.identity

    def close(self) -> None:
        """End the child: EOF on its stdin asks it to exit; after 2 s it is killed."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _close_pipes(process)

    # ------------------------------------------------------------ requests

    def tick(
        self, tick: int, dispatch: list[dict[str, Any]], govern: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """This tick's receipts (one per dispatch, in order) and governance payloads."""
        request = {
            "op": "tick",
            "id": f"tick-{tick}",
            "tick": tick,
            "seed": self.seed,
            "dispatch": dispatch,
            "govern": govern,
        }
        answer = self._call(request, f"tick {tick}")
        if not answer.get("ok"):
            raise ExecutorFailed(
                f"the bridge refused tick {tick}: {answer.get('error', 'no reason given')}",
                "fix the bridge, then `agijobs runner start --executor bridge` continues from "
                "the last checkpoint",
            )
        receipts = answer.get("receipts")
        _check_receipts(tick, dispatch, receipts)
        _check_node_reports(tick, answer.get("nodes"))
        return answer

    def _call(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        settings = self.settings
        line = orjson.dumps(request) + b"\n"
        rng = random.Random(f"{self.seed}:{request['id']}")  # replays back off alike
        problem, slow = "", False
        for attempt in range(settings.retries + 1):
            if attempt:
                delay = settings.backoff * 2 ** (attempt - 1) * (1 + rng.random())
                log.debug("%s; retry %d in %.3fs", problem, attempt, delay)
                time.sleep(delay)
                self._restart()
            try:
                self._ensure_started()
                self._send(line)
                return self._receive(request["id"])
            except TimeoutError:
                problem, slow = f"no answer to {what} within {settings.timeout:g}s", True
            except _Garbled as garbled:
                problem, slow = str(garbled), False
            except (BrokenPipeError, EOFError):
                problem, slow = f"the bridge exited during {what} (code {self._exit_code()})", False
        raise ExecutorFailed(
            f"bridge `{shlex.join(settings.command)}`: {problem} "
            f"({settings.retries} retr{'y' if settings.retries == 1 else 'ies'} failed)",
            ("fix the bridge or raise --bridge-timeout" if slow else "fix the bridge")
            + ", then `agijobs runner start --executor bridge` continues from the last checkpoint",
        )

    def _ensure_started(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            raise EOFError
        env = {**os.environ, **self.settings.env}
        try:
            self.process = subprocess.Popen(
                self.settings.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as error:
            raise BadInput(
                f"bridge `{shlex.join(self.settings.command)}`: cannot start ({error.strerror})",
                "check AGIJOBS_BRIDGE / --bridge",
            ) from None
        self.lines = queue.Queue()
        self.line_number = 0
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(
            target=_read_lines,
            args=(self.process.stdout, self.lines, self.settings.max_line),
            daemon=True,
        ).start()
        threading.Thread(target=_log_stderr, args=(self.process.stderr,), daemon=True).start()
        if self.identity:  # a restarted child shakes hands again before the re-sent request
            self._send(orjson.dumps({"op": "hello", "id": "hello", "protocol": PROTOCOL}) + b"\n")
            self._receive("hello")

    def _restart(self) -> None:
        self.restarts += 1
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        _close_pipes(process)

    def _send(self, line: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def _receive(self, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                raw = self.lines.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError from None
            if raw is None:
                raise EOFError
            self.line_number += 1
            if len(raw) > self.settings.max_line:
                raise _Garbled(
                    f"bridge stdout line {self.line_number} is longer than "
                    f"{self.settings.max_line} bytes"
                )
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise _Garbled(
                    f"bridge stdout line {self.line_number} is not JSON: {raw[:80]!r}"
                ) from None
            if not isinstance(answer, dict):
                raise _Garbled(f"bridge stdout line {self.line_number} is not a JSON object")
            if answer.get("id") == request_id:
                return answer
            log.debug("ignoring line %d for id %r", self.line_number, answer.get("id"))

    def _exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()


def _read_lines(stream: IO[bytes], lines: queue.Queue[bytes | None], limit: int) -> None:
    """Feed the child's stdout lines to `lines`; None at EOF. An oversized line is passed on
    cut at limit + 1 bytes (the caller names it), the rest of it skipped."""
    try:
        while True:
            line = stream.readline(limit + 1)
            if not line:
                break
            if len(line) > limit and not line.endswith(b"\n"):
                while True:  # skip the rest of the oversized line
                    rest = stream.readline(limit + 1)
                    if not rest or rest.endswith(b"\n"):
                        break
            lines.put(line.rstrip(b"\n"))
    except (OSError, ValueError):
        pass
    lines.put(None)


def _log_stderr(stream: IO[bytes]) -> None:
    try:
        for line in stream:
            log.debug("stderr: %s", line.decode("utf-8", "replace").rstrip())
    except (OSError, ValueError):
        pass


def _check_receipts(tick: int, dispatch: list[dict[str, Any]], receipts: Any) -> None:
    """Exactly one well-formed receipt per dispatch, in order."""

    def bad(what: str) -> ExecutorFailed:
        return ExecutorFailed(
            f"the bridge's answer to tick {tick} is invalid: {what}",
            "a bridge returns one receipt per dispatch, in order (bridge/PROTOCOL.md)",
        )

    if not isinstance(receipts, list) or len(receipts) != len(dispatch):
        count = len(receipts) if isinstance(receipts, list) else "no"
        raise bad(f"{count} receipts for {len(dispatch)} dispatches")
    for index, (sent, receipt) in enumerate(zip(dispatch, receipts, strict=True)):
        if not isinstance(receipt, dict):
            raise bad(f"receipts -> {index} is not an object")
        if (receipt.get("job"), receipt.get("attempt")) != (sent["job"], sent["attempt"]):
            raise bad(
                f"receipts -> {index} is for {receipt.get('job')} attempt "
                f"{receipt.get('attempt')}, expected {sent['job']} attempt {sent['attempt']}"
            )
        if receipt.get("status") not in ("accepted", "rejected"):
            raise bad(f"receipts -> {index} -> status: {receipt.get('status')!r}")
        duration = receipt.get("duration")
        if duration is not None and (not isinstance(duration, int) or duration < 1):
            raise bad(f"receipts -> {index} -> duration: {duration!r} (a whole number ≥ 1)")


def _check_node_reports(tick: int, reports: Any) -> None:
    """The optional `nodes` field: a list of {node, status: down|up} (more fields allowed)."""
    if reports is None:
        return

    def bad(what: str) -> ExecutorFailed:
        return ExecutorFailed(
            f"the bridge's answer to tick {tick} is invalid: {what}",
            'a node report is {"node": ID, "status": "down" or "up"} (bridge/PROTOCOL.md)',
        )

    if not isinstance(reports, list):
        raise bad("nodes is not a list")
    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise bad(f"nodes -> {index} is not an object")
        if not isinstance(report.get("node"), str) or not report["node"]:
            raise bad(f"nodes -> {index} -> node: {report.get('node')!r} (a node id)")
        if report.get("status") not in ("down", "up"):
            raise bad(f"nodes -> {index} -> status: {report.get('status')!r}")
