"""Every option and argument of the command line, declared once.

A command is a plain function whose parameters carry these declarations
(``storage: Storage = DEFAULT_STORAGE``); the Typer application (`application.py`) and the fast path
(`fast.py`) both read them from the function, so neither declares an option of its own.
It imports nothing heavy: the fast path reads it.
"""

from pathlib import Path
from typing import Annotated, NamedTuple

DEFAULT_STORAGE = "storage"
# As agijobs.scenario.limits.MAX_TICKS (a test holds them equal): the command line imports
# no scenario module.
MAX_TICKS = 10_000_000


class Opt(NamedTuple):
    """An option (`flag`) or, without one, an argument, as the operator types it."""

    flag: str | None
    help: str
    envvar: str | None = None
    low: float | None = None  # the least value a number may take
    high: float | None = None  # and the greatest: sleeps, waits and counts stay in range
    hidden: bool = False  # kept working for scripts, no longer shown in --help
    metavar: str | None = None  # what --help shows for the value (default: by its type)


def argument(help: str) -> Opt:
    return Opt(None, help)


# Every command
Storage = Annotated[
    str,
    Opt(
        "--storage",
        "Storage directory, or postgresql://USER@HOST/DB?fabric=NAME (env AGIJOBS_STORAGE).",
        envvar="AGIJOBS_STORAGE",
    ),
]
Json = Annotated[bool, Opt("--json", "Print exactly one JSON document on stdout.")]

# Owner commands
Reason = Annotated[str, Opt("--reason", "Why (recorded in the audit log).")]
Actor = Annotated[str | None, Opt("--actor", "Who issues the command (default: your OS user).")]
Key = Annotated[
    str | None,
    Opt(
        "--key",
        "Sign with this key: a name under the key directory, or a path (env AGIJOBS_KEY).",
        envvar="AGIJOBS_KEY",
    ),
]
RunnerKey = Annotated[
    str | None,
    Opt(
        "--runner-key",
        "On a fabric with owner keys, the key that signs its checkpoints: a name under the "
        "key directory or a path (default: $AGIJOBS_RUNNER_KEY, else the runner key's name).",
    ),
]
Timeout = Annotated[
    float,
    Opt("--timeout", "Seconds to wait for a live runner to acknowledge.", low=0, high=86_400),
]

# Node operations
NodeId = Annotated[str, Opt(None, "The node, e.g. earth.core-alpha (see `agijobs status`).")]
Deadline = Annotated[
    int,
    Opt(
        "--deadline",
        "Ticks from now: jobs still running on the node then go back to their queue.",
        low=1,
        high=MAX_TICKS,
    ),
]

# Who runs the jobs
Executor = Annotated[
    str,
    Opt(
        "--executor",
        "Who runs the jobs: inprocess (default) or bridge (the command in AGIJOBS_BRIDGE or "
        "--bridge; see bridge/PROTOCOL.md).",
        envvar="AGIJOBS_EXECUTOR",
    ),
]
Bridge = Annotated[
    str | None, Opt("--bridge", "Bridge command line (default: env AGIJOBS_BRIDGE).")
]
BridgeTimeout = Annotated[
    float | None,
    Opt("--bridge-timeout", "Seconds per bridge call (default 5).", low=0.01, high=3600),
]

# A witness outside the storage: run and runner start publish to it, audit reads it
Witness = Annotated[
    str | None,
    Opt(
        "--witness",
        "Keep each checkpoint's head outside the storage: an append-only file, - (stdout; "
        "stdin for audit) or postgresql://USER@HOST/OTHER_DB. run and runner start publish to "
        "it; audit proves the log extends every head it holds (env AGIJOBS_WITNESS).",
        envvar="AGIJOBS_WITNESS",
    ),
]

# A live runner's Prometheus endpoint (run, resume, and whatever else starts a runner)
MetricsAddr = Annotated[
    str | None,
    Opt(
        "--metrics-addr",
        "Serve Prometheus /metrics on HOST:PORT while the runner runs (:PORT for every "
        "interface; env AGIJOBS_METRICS_ADDR).",
        envvar="AGIJOBS_METRICS_ADDR",
    ),
]

# Running
StopAfter = Annotated[
    int | None,
    Opt(
        "--stop-after-ticks",
        "Stop after this many ticks (`agijobs runner start` continues).",
        low=0,
        high=MAX_TICKS,
    ),
]
TickMs = Annotated[
    int,
    Opt("--tick-ms", "Pace the run: sleep this long after each tick.", low=0, high=3_600_000),
]
Wait = Annotated[bool, Opt("--wait", "When paused and idle, wait for live owner commands.")]
# A runner as a background service (cli/background.py)
Detach = Annotated[
    bool,
    Opt(
        "--detach",
        "Run in the background, in a session of its own: return once the runner is live, "
        "its output appended to --log.",
    ),
]
Log = Annotated[
    str | None,
    Opt(
        "--log",
        "With --detach: the runner's log (default STORAGE/runner.log; for a PostgreSQL "
        "storage ./agijobs-FABRIC.log).",
    ),
]
StopTimeout = Annotated[
    float, Opt("--timeout", "Seconds to wait for the runner to stop.", low=0, high=86_400)
]
Blueprint = Annotated[
    Path | None,
    Opt("--blueprint", "Reference jobs blueprint, with a reference fabric config."),
]
OwnerCommands = Annotated[
    Path | None,
    Opt("--owner-commands", "Reference owner-commands file, with a reference fabric config."),
]


# `resume` once also became the runner. Its runner options stay accepted, hidden, so that a
# script typing one is told what to use now instead of failing on an unknown option; each is
# refused (exit 2). No environment variable: a runner's settings in the environment must
# never make `resume` refuse.
_RETIRED = "Retired: `resume` no longer restarts the runner (see `agijobs runner start`)."
RetiredKeepPaused = Annotated[bool, Opt("--keep-paused", _RETIRED, hidden=True)]
RetiredStopAfter = Annotated[int | None, Opt("--stop-after-ticks", _RETIRED, hidden=True)]
RetiredTickMs = Annotated[int | None, Opt("--tick-ms", _RETIRED, hidden=True)]
RetiredWait = Annotated[bool, Opt("--wait", _RETIRED, hidden=True)]
RetiredExecutor = Annotated[str | None, Opt("--executor", _RETIRED, hidden=True)]
RetiredBridge = Annotated[str | None, Opt("--bridge", _RETIRED, hidden=True)]
RetiredBridgeTimeout = Annotated[float | None, Opt("--bridge-timeout", _RETIRED, hidden=True)]
RetiredRunnerKey = Annotated[str | None, Opt("--runner-key", _RETIRED, hidden=True)]
RetiredWitness = Annotated[str | None, Opt("--witness", _RETIRED, hidden=True)]
# Reading the log (events, describe, audit)
SinceTick = Annotated[
    int | None, Opt("--since-tick", "Only from this tick on.", low=0, high=MAX_TICKS)
]
UntilTick = Annotated[
    int | None, Opt("--until-tick", "Only up to this tick.", low=0, high=MAX_TICKS)
]


class Command(NamedTuple):
    """A command: where its function lives, and whether the fast path may take it."""

    module: str  # in this package
    function: str
    fast: bool = False


# Every command, in the order `--help` lists them. The fast path takes the commands an
# operator types in an incident and scripts poll, when well formed (see fast.py).
COMMANDS: dict[str, Command] = {
    "plan": Command("running", "plan"),
    "run": Command("running", "run"),
    "runner start": Command("running", "start_runner"),
    "pause-all": Command("owner", "pause_all", fast=True),
    "resume": Command("owner", "resume", fast=True),
    "reroute": Command("owner", "reroute", fast=True),
    "set-latency": Command("owner", "set_latency", fast=True),
    "cordon": Command("owner", "cordon", fast=True),
    "uncordon": Command("owner", "uncordon", fast=True),
    "drain": Command("owner", "drain", fast=True),
    "apply": Command("owner", "apply"),
    "submit": Command("owner", "submit", fast=True),
    "approve": Command("owner", "approve"),
    "status": Command("reading", "status", fast=True),
    "fabrics": Command("reading", "fabrics"),
    "audit": Command("reading", "audit", fast=True),
    "report": Command("reading", "report"),
    "events": Command("reading", "events"),
    "describe job": Command("reading", "describe_job", fast=True),
    "describe node": Command("reading", "describe_node", fast=True),
    "describe shard": Command("reading", "describe_shard", fast=True),
    "schema": Command("reading", "schema"),
    "runner stop": Command("background", "runner_stop", fast=True),
    "keys new": Command("keys", "new"),
    "keys show": Command("keys", "show"),
    "export": Command("copies", "export"),
    "import": Command("copies", "import_"),
}
GROUPS = {
    "runner": "The process that runs the fabric: start it to continue a stored run, stop it "
    "cleanly.",
    "describe": "One job, node or shard: its state now and its history (kubectl describe).",
    "keys": "Owner keys (Ed25519): create one, or print the config line of one you have.",
}
