"""The audit's check of the whole hash chain, done beside its walk of the events.

`load_run` accepts the log up to the checkpoint by the digest the checkpoint records: one
sha256 instead of one per line. The audit must re-hash every line from seq 1 (a forger
who edits a line can re-seal a checkpoint over the new bytes), and that costs as much as
parsing the events. It needs bytes only, so on a machine with two cores a forked child
hashes from the first line on while the parent walks the events; once done, the parent
hashes from the last line back until the two meet. The verdict is whether every line
holds, whichever process checked it, so no result depends on which one was faster.

The child reads the bytes it inherited and nothing else: no file, lock or database
connection. It writes how far it got to a shared page and leaves by `os._exit`, and the
parent reaps it on every way out, killing it first if its verdict is no longer needed.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import sys
import threading
from types import TracebackType

from ..ledger.canonical import GENESIS_HASH
from ..ledger.chain import claimed_hash, verified_head

_GENESIS = GENESIS_HASH.encode()
FORK_FROM = 4 << 20  # bytes: a shorter log is hashed in process (a fork costs ~10 ms)
CHUNK = 1 << 20  # bytes hashed at a time, between looks at what the other process did
# The shared page: the lines and bytes the child has verified from the start, the byte from
# which the parent has claimed the rest, and whether the child met a line that does not
# hold (the parent then stops at once: the verdict is known).
_LINES, _BYTES, _CLAIMED, _FAILED = range(4)


class ChainCheck:
    """Whether the first `end` bytes of `data` are `seq` whole lines that `scan_events`
    verifies from the genesis hash (`verified_head`'s strict verdict).

    As a context manager it forks the child on entering (when the log is long enough and
    the machine can run it beside the parent) and reaps it on leaving.
    """

    def __init__(self, data: bytes, seq: int, end: int) -> None:
        self.data, self.seq, self.end = data, seq, end
        self.pid = 0
        self.shared: mmap.mmap | None = None
        self.progress: memoryview | None = None  # the shared page, as 64-bit integers
        self.verdict: bool | None = None

    def __enter__(self) -> ChainCheck:
        if self.end >= FORK_FROM and _can_fork():
            self._fork()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._reap(kill=True)
        if self.progress is not None:
            self.progress.release()
            self.progress = None
        if self.shared is not None:
            self.shared.close()
            self.shared = None

    def holds(self) -> bool:
        """The verdict. With a child, the parent first hashes lines from the end until it
        meets the child, then waits for it."""
        if self.verdict is None:
            self.verdict = self._settle()
        return self.verdict

    def _settle(self) -> bool:
        data, end = self.data, self.end
        if end and data[end - 1 : end] != b"\n":
            return False  # not whole lines: the full scan says what is wrong
        if self.progress is None:
            progress = memoryview(bytearray(32)).cast("q")
            progress[_CLAIMED] = end
            if _hash_forward(data, end, progress, parent=None):
                return False
            return progress[_BYTES] == end and progress[_LINES] == self.seq
        progress = self.progress
        top, seq = end, self.seq  # the parent has verified data[top:end]: lines seq + 1 on
        while (done := min(max(progress[_BYTES], 0), end)) < top:  # a hint: see below
            if progress[_FAILED]:
                return False
            start = max(data.rfind(b"\n", done, max(top - CHUNK, done)) + 1, done)
            progress[_CLAIMED] = start
            lines = data[start : top - 1].split(b"\n")
            seq -= len(lines)
            if verified_head(lines, seq, _head_before(data, start)) is None:
                return False
            top = start
        if not self._reap(kill=False):
            return False
        # The child has exited: its counts are exact now. It may have gone past `top`, or
        # (had a read of them been torn) stopped short of it.
        done, counted = progress[_BYTES], progress[_LINES]
        if done > top:
            counted -= data.count(b"\n", top, done)
        elif done < top:
            lines = data[done : top - 1].split(b"\n")
            if verified_head(lines, counted, _head_before(data, done)) is None:
                return False
            counted += len(lines)
        return counted == seq  # the lines before `top` are as many as the parent counted

    def _fork(self) -> None:
        self.shared = mmap.mmap(-1, 32)  # anonymous and shared with the child
        self.progress = memoryview(self.shared).cast("q")
        self.progress[_CLAIMED] = self.end
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _hash_forward(self.data, self.end, self.progress, parent)
            finally:
                os._exit(code)  # nothing of the parent's runs here: no atexit, no flush
        self.pid = pid

    def _reap(self, *, kill: bool) -> bool:
        """Wait for the child (killing it first with `kill`); whether it found every line
        it checked sound. Reaps it once, on every way out."""
        if not self.pid:
            return False
        pid, self.pid = self.pid, 0
        if kill:
            _kill(pid)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return False  # reaped by someone else: no verdict
        except BaseException:
            _kill(pid)  # interrupted while waiting: leave no child behind
            os.waitpid(pid, 0)
            raise
        return os.waitstatus_to_exitcode(status) == 0


def _hash_forward(data: bytes, end: int, progress: memoryview, parent: int | None) -> int:
    """Verify whole lines from the first on, a chunk at a time, until reaching the byte the
    parent has claimed (0) or a line that does not hold (1), publishing after each chunk.
    In the child, `parent` is the parent's pid: if it changes, the parent was killed."""
    position, counted, head = 0, 0, _GENESIS
    while position < progress[_CLAIMED]:
        if parent is not None and os.getppid() != parent:
            return 1  # nobody waits for this verdict any more
        stop = data.find(b"\n", min(position + CHUNK, end - 1), end)
        if stop < 0:
            return _failed(progress)  # not whole lines
        lines = data[position:stop].split(b"\n")
        found = verified_head(lines, counted, head)
        if found is None:
            return _failed(progress)
        head, counted, position = found, counted + len(lines), stop + 1
        progress[_LINES] = counted
        progress[_BYTES] = position
    return 0


def _head_before(data: bytes, start: int) -> bytes:
    """The hash the line ending just before `start` claims: what the next one is hashed on."""
    if not start:
        return _GENESIS
    return claimed_hash(data[data.rfind(b"\n", 0, start - 1) + 1 : start - 1])


def _failed(progress: memoryview) -> int:
    progress[_FAILED] = 1
    return 1


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has exited (a zombie is still found)
        os.kill(pid, signal.SIGKILL)


def _can_fork() -> bool:
    """Linux, two cores for this process, and no other thread (a fork copies only the
    calling thread, so a lock another one holds would stay held in the child)."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return False
    return len(os.sched_getaffinity(0)) > 1
