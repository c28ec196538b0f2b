"""Operator sentences → typed scenario pieces, for `agijobs plan SCENARIO --intent TEXT`.

This is a small exact grammar, not keyword guessing. A sentence is split at the first
``because`` (the rest, in its original case, is the command's reason), a trailing period is
dropped, and the words are tokenized: ``350ms`` → ``350 ms``, ``98%`` → ``98 %``, ``@120`` →
``@ 120``, and the filler words ``the all please shard(s) job(s)`` are removed. Matching is
case-insensitive; shard and node names come back in their known spelling. The leading verb
picks the form, and from there every word must fit, so a broken sentence gets told what was
expected where::

    command  := (pause [everything|fabric] | pause-all
                 | resume|unpause [everything|fabric]
                 | reroute|move|shift [N] [from] SHARD [backlog|queue] to SHARD
                 | set SHARD [latency] budget to N ms
                 | set [latency] budget of SHARD to N ms
                | cordon|uncordon [node] NODE
                | drain [node] NODE (within|in) N [ticks])
                timing
    timing   := (at tick|at|@|on tick|tick) T | now
                | when SHARD queue (exceeds|is above|goes above|>) N [every time]
                | when any (is|goes|becomes) (critical|degraded) [every time]
    fault    := (take NODE (offline|down) | NODE goes (down|offline))
                (at tick T | now) (for N [ticks] | until [tick] T)
    expect   := (finish|drain|complete) (within|in N [ticks] | by [tick] T)
                | complete at least (P % | R) [of]
                | keep (spend|cost) (under|below|at most) X [USDC]

``every time`` also reads ``each time`` or ``repeatedly``; ``now`` is the tick the caller
passes (a what-if from a storage's checkpoint). Deterministic, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from ..errors import BadInput

FORMS: tuple[str, ...] = (
    "pause all shards at tick 120 because helios GPUs recalibrate",
    "resume at tick 150",
    "reroute the earth backlog to helios at tick 180",
    "reroute 500 jobs from earth to helios when earth queue exceeds 4000",
    "pause all shards when any shard is critical",
    "set mars latency budget to 350 ms at tick 200",
    "take mars.gpu-helion offline at tick 45 for 60 ticks",
    "finish all jobs within 800 ticks",
    "complete at least 98% of jobs",
    "keep spend under 25 USDC",
    "cordon node earth.core-alpha at tick 40 because its NIC flaps",
    "uncordon node earth.core-alpha at tick 90",
    "drain node mars.gpu-helion within 20 ticks at tick 40 because of a kernel upgrade",
)


@dataclass(frozen=True, slots=True)
class Intent:
    """One parsed sentence: what kind of scenario piece it is, the piece, one review line."""

    text: str
    kind: str  # "schedule" | "trigger" | "fault" | "expect"
    entry: dict[str, Any]
    summary: str


def parse_intent(
    text: str, shards: Sequence[str], nodes: Sequence[str], now: int | None = None
) -> Intent:
    """Parse one operator sentence into a scenario-shaped piece.

    Example: ``parse_intent("resume at tick 150", ["earth"], [])`` is a schedule entry.

    Raises:
        BadInput: the sentence matches no form, breaks off inside one, or names an unknown
            shard or node; the message quotes the sentence and says what was expected.
    """
    return _Parser(text, shards, nodes, now).parse()


_FILLER = frozenset({"the", "all", "please", "shard", "shards", "job", "jobs"})
_NUMBER = r"-?\d+(?:[,_]\d{3})*(?:\.\d+)?"
_IS_NUMBER = re.compile(_NUMBER)
_GLUED = re.compile(rf"({_NUMBER})(%|[a-z]+)", re.IGNORECASE)
_BECAUSE = re.compile(r"\bbecause\b", re.IGNORECASE)
_AT = ("at tick", "at", "@ tick", "@", "on tick", "tick")
_ABOVE = ("exceeds", "is above", "goes above", "rises above", "is over", ">")
_REPEAT = ("every time", "each time", "repeatedly")
_ALL_FORMS = "forms: " + "; ".join(FORMS)


def _tokens(clause: str) -> list[str]:
    words: list[str] = []
    for raw in clause.split():
        word = raw.strip(",;").rstrip(".")  # "at tick 120. because …" ends a clause
        glued = _GLUED.fullmatch(word)
        if word.startswith("@") and len(word) > 1:
            words += ["@", word[1:]]
        elif glued:
            words += [glued[1], glued[2]]
        elif word:
            words.append(word)
    return [w for w in words if w.lower() not in _FILLER]


class _Parser:
    """A cursor over one sentence's words; each form is one method reading left to right."""

    def __init__(
        self, text: str, shards: Sequence[str], nodes: Sequence[str], now: int | None
    ) -> None:
        self.text, self.shards, self.nodes, self.now = text, shards, nodes, now
        body = text.strip().rstrip(".").rstrip()
        clause, *because = _BECAUSE.split(body, maxsplit=1)
        self.reason = because[0].strip(" ,:;") if because else None
        self.words = _tokens(clause)
        self.pos = 0
        self.example: tuple[int, ...] = ()

    # ------------------------------------------------------------------ cursor

    def fail(self, problem: str, hint: str | None = None) -> NoReturn:
        examples = " or ".join(f'"{FORMS[i]}"' for i in self.example)
        raise BadInput(f'intent "{self.text}": {problem}', hint or f"e.g. {examples}")

    def peek(self) -> str:
        return self.words[self.pos].lower() if self.pos < len(self.words) else ""

    def after(self) -> str:
        return f"after `{self.words[self.pos - 1].lower()}`" if self.pos else "at the start"

    def where(self) -> str:
        got = f" (got `{self.words[self.pos]}`)" if self.pos < len(self.words) else ""
        return self.after() + got

    def accept(self, *phrases: str) -> str | None:
        """Consume the first phrase (one or more words) that comes next; longest first."""
        for phrase in phrases:
            parts = phrase.split()
            ahead = [w.lower() for w in self.words[self.pos : self.pos + len(parts)]]
            if ahead == parts:
                self.pos += len(parts)
                return phrase
        return None

    def expect(self, *phrases: str, what: str) -> str:
        found = self.accept(*phrases)
        if found is None:
            self.fail(f"expected {what} {self.where()}")
        return found

    def number(self, what: str) -> Decimal:
        word = self.peek()
        if not _IS_NUMBER.fullmatch(word):
            self.fail(f"expected {what} {self.where()}")
        self.pos += 1
        return Decimal(word.replace(",", "").replace("_", ""))

    def integer(self, what: str, name: str, minimum: int) -> int:
        value = self.number(what)
        if value != value.to_integral_value():
            self.fail(f"{name} must be a whole number (got {value})")
        if value < minimum:
            self.fail(f"{name} must be ≥ {minimum} (got {value})")
        return int(value)

    def name(self, known: Sequence[str], kind: str) -> str:
        word = self.words[self.pos] if self.pos < len(self.words) else ""
        if not word:
            self.fail(f"expected a {kind} name {self.where()}")
        folded = {k.lower(): k for k in reversed(known)}  # the first spelling wins
        found = word if word in known else folded.get(word.lower())
        if found is None:
            close = difflib.get_close_matches(word.lower(), list(folded), n=1, cutoff=0.6)
            mean = f"; did you mean `{folded[close[0]]}`?" if close else ""
            self.fail(f"unknown {kind} `{word}`{mean}", f"known {kind}s: {', '.join(known)}")
        self.pos += 1
        return found

    def end(self) -> None:
        if self.pos < len(self.words):
            self.fail(f"unexpected `{self.words[self.pos]}` {self.after()}")

    def tick(self, what: str) -> int:
        if self.accept("now"):
            if self.now is None:
                self.fail(
                    "`now` needs `--from-storage`",
                    "`now` is the tick of a storage's checkpoint (a what-if from "
                    "`--from-storage STORAGE`); without one, say `at tick N`",
                )
            if self.now < 1:
                self.fail(f"`now` is tick {self.now}; a tick must be ≥ 1", "say `at tick N`")
            return self.now
        if self.accept(*_AT) is None:
            self.fail(f"expected {what} {self.where()}")
        return self.integer("a tick number", "tick", 1)

    # ------------------------------------------------------------------ forms

    def parse(self) -> Intent:
        verb = self.peek()
        forms: dict[str, tuple[Callable[[], Intent], tuple[int, ...]]] = {
            "pause": (self.pause, (0, 4)),
            "pause-all": (self.pause, (0, 4)),
            "resume": (self.resume, (1,)),
            "unpause": (self.resume, (1,)),
            "reroute": (self.reroute, (2, 3)),
            "move": (self.reroute, (2, 3)),
            "shift": (self.reroute, (2, 3)),
            "set": (self.set_latency, (5,)),
            "take": (self.outage, (6,)),
            "finish": (self.finish, (7,)),
            "drain": (self.drain, (12, 7)),
            "cordon": (self.cordon, (10,)),
            "uncordon": (self.uncordon, (11,)),
            "complete": (self.complete, (8, 7)),
            "keep": (self.spend, (9,)),
        }
        if verb in forms:
            method, self.example = forms[verb]
            self.pos = 1
        elif len(self.words) > 1 and self.words[1].lower() in ("goes", "go"):
            method, self.example = self.outage, (6,)
        elif not self.words:
            problem = "no command before `because`" if self.reason else "nothing to parse"
            self.fail(problem, _ALL_FORMS)
        else:
            lowered = self.text.strip().lower()
            closest = max(
                FORMS, key=lambda f: difflib.SequenceMatcher(None, lowered, f.lower()).ratio()
            )
            self.fail(f'matches no form; the closest is "{closest}"', _ALL_FORMS)
        intent = method()
        if self.reason is not None and intent.kind in ("fault", "expect"):
            what = "a fault" if intent.kind == "fault" else "an expectation"
            self.fail(f"{what} has no reason; drop `because …`")
        return intent

    def command(self, fields: dict[str, Any], label: str) -> Intent:
        if self.reason == "":
            self.fail("expected a reason after `because`")
        reason = self.reason or f"intent: {self.text.strip()}"
        if not self.accept("when"):
            tick = self.tick("`at tick N`, `now` or `when …`")
            if self.accept(*_REPEAT):
                self.fail("`every time` needs a `when …` trigger, not a tick")
            self.end()
            entry = {"tick": tick, **fields, "reason": reason}
            return Intent(self.text, "schedule", entry, f"{label} @{tick} — reason: {reason}")
        when, condition = self.trigger()
        repeat = self.accept(*_REPEAT) is not None
        self.end()
        entry = {"when": when, **({"repeat": True} if repeat else {}), **fields, "reason": reason}
        label += f" when {condition}" + (", every time" if repeat else "")
        return Intent(self.text, "trigger", entry, f"{label} — reason: {reason}")

    def trigger(self) -> tuple[dict[str, Any], str]:
        if self.accept("any"):
            self.expect("is", "goes", "becomes", what="`is`")
            state = self.expect("critical", "degraded", what="`critical` or `degraded`")
            return {"any_shard": state}, f"any shard is {state}"
        shard = self.name(self.shards, "shard")
        self.expect("queue", what="`queue`")
        self.expect(*_ABOVE, what="`exceeds`, `is above` or `>`")
        above = self.integer("a queue length", "queue threshold", 0)
        return {"shard": shard, "queue_above": above}, f"{shard} queue > {above}"

    def pause(self) -> Intent:
        self.accept("everything", "fabric")
        return self.command({"command": "pause-all"}, "pause-all")

    def resume(self) -> Intent:
        self.accept("everything", "fabric")
        return self.command({"command": "resume"}, "resume")

    def reroute(self) -> Intent:
        backlog: int | str = "all"
        if _IS_NUMBER.fullmatch(self.peek()):
            backlog = self.integer("a job count", "job count", 1)
        self.accept("from", "backlog of", "queue of")
        source = self.name(self.shards, "shard")
        self.accept("backlog", "queue")
        self.expect("to", what="`to SHARD`")
        target = self.name(self.shards, "shard")
        if target == source:
            self.fail(f"cannot reroute `{source}` to itself")
        fields = {"command": "reroute", "from": source, "to": target, "backlog": backlog}
        return self.command(fields, f"reroute {source} → {target} (backlog {backlog})")

    def set_latency(self) -> Intent:
        budget = ("latency budget", "budget", "latency")
        if self.accept(*budget):
            self.expect("of", what="`of SHARD`")
            shard = self.name(self.shards, "shard")
        else:
            shard = self.name(self.shards, "shard")
            self.expect(*budget, what="`latency budget`")
        self.expect("to", what="`to N ms`")
        ms = self.integer("a number of ms", "ms", 1)
        self.expect("ms", "millisecond", "milliseconds", what="`ms`")
        fields = {"command": "set-latency", "shard": shard, "ms": ms}
        return self.command(fields, f"set-latency {shard} {ms} ms")

    def outage(self) -> Intent:
        node = self.name(self.nodes, "node")
        if self.words[0].lower() == "take":
            self.expect("offline", "down", what="`offline` or `down`")
        else:
            self.expect("goes down", "goes offline", "go down", "go offline", what="`goes down`")
        tick = self.tick("`at tick N` or `now`")
        if self.accept("for"):
            until = tick + self.integer("a number of ticks", "duration", 1)
            self.accept("ticks", "tick")
        elif self.accept("until tick", "until"):
            until = self.integer("a tick number", "until", 1)
            if until <= tick:
                self.fail(f"until ({until}) must be after tick ({tick})")
        else:
            self.fail(f"expected `for N ticks` {self.where()} (an outage needs a duration)")
        self.end()
        entry = {"tick": tick, "node": node, "kind": "outage", "until": until}
        return Intent(self.text, "fault", entry, f"fault: {node} outage @{tick} until {until}")

    def node(self) -> str:
        self.accept("node")
        return self.name(self.nodes, "node")

    def cordon(self) -> Intent:
        node = self.node()
        return self.command({"command": "node.cordon", "node": node}, f"cordon {node}")

    def uncordon(self) -> Intent:
        node = self.node()
        return self.command({"command": "node.uncordon", "node": node}, f"uncordon {node}")

    def drain(self) -> Intent:
        """`drain node NODE within N ticks …` drains a node; `drain within N ticks` (no
        node) is the expectation that every job is done by then."""
        if self.peek() != "node" and self.peek() not in {n.lower() for n in self.nodes}:
            self.example = (7, 12)
            return self.finish()
        node = self.node()
        self.expect("within", "in", what="`within N ticks` (the drain's deadline)")
        ticks = self.integer("a number of ticks", "deadline", 1)
        self.accept("ticks", "tick")
        fields = {"command": "node.drain", "node": node, "deadline_ticks": ticks}
        return self.command(fields, f"drain {node} within {ticks} ticks")

    def finish(self) -> Intent:
        self.accept("everything", "fabric")
        if self.accept("within", "in"):
            by = self.integer("a number of ticks", "ticks", 1)
            self.accept("ticks", "tick")
        else:
            self.expect("by tick", "by", what="`within N ticks`")
            by = self.integer("a tick number", "tick", 1)
        self.end()
        return Intent(self.text, "expect", {"drained_by_tick": by}, f"expect: drained by tick {by}")

    def complete(self) -> Intent:
        if self.peek() in ("within", "in", "by", "everything", "fabric"):
            return self.finish()
        self.expect("at least", what="`at least`")
        value = self.number("a percentage or a ratio")
        if self.accept("%", "percent"):
            if not 0 <= value <= 100:
                self.fail(f"a percentage must be between 0 and 100 (got {value}%)")
            value /= 100
        elif not 0 <= value <= 1:
            self.fail(f"a ratio must be between 0 and 1 (got {value}); write 98% or 0.98")
        self.accept("of")
        self.end()
        ratio = float(value)
        entry = {"min_completed_ratio": ratio}
        return Intent(self.text, "expect", entry, f"expect: completed ratio ≥ {ratio:g}")

    def spend(self) -> Intent:
        self.expect("spend", "spending", "cost", "costs", what="`spend`")
        self.expect("under", "below", "at most", what="`under`")
        value = self.number("an amount in USDC")
        if value < 0:
            self.fail(f"max cost must be ≥ 0 (got {value})")
        if self.peek() and not self.accept("usdc"):
            self.fail(f"expected `USDC` {self.where()}")
        self.end()
        cost = float(value)
        return Intent(self.text, "expect", {"max_cost": cost}, f"expect: cost ≤ {cost:g} USDC")
