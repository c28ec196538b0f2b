"""The runner as a background service: `--detach` (made here, once, for every command
that starts a runner) and `agijobs runner stop`."""

import sys
from collections.abc import Callable
from typing import Any

from .options import DEFAULT_STORAGE, Json, Opt, StopTimeout, Storage
from .output import guard, print_json

# What the detached runner is not given: how it is detached, and how its starter prints.
_STARTER_ONLY = frozenset({"detach", "log", "as_json", "storage"})


def detached(
    words: str, function: Callable[..., None], values: dict[str, Any], as_json: bool
) -> None:
    """Start the command `words` (`run`) with the options in `values` (its function's
    parameters, as given) as a detached runner, and print where it is once it is live."""
    with guard(as_json):
        from ..errors import BadInput
        from ..service import Fabric

        if values.get("witness") == "-":
            raise BadInput(
                "--witness -: not with --detach (a detached runner has no standard output)",
                "publish to a file (--witness FILE), or drop --detach",
            )
        tail: list[str] = []
        try:
            started = Fabric(values["storage"]).detach(
                [*words.split(), *command_line(function, values)], log=values["log"], tail=tail
            )
        finally:
            for line in tail:  # the last words of a runner that exited before it was live
                sys.stderr.write(line + "\n")
        if as_json:
            print_json("RunnerStarted", started)
        elif started["live"]:
            print(
                f"runner {started['pid']} live at tick {started['tick']} on "
                f"{started['storage']} (log: {started['log']})"
            )
        else:
            print(
                f"runner {started['pid']} exited 0 before it was seen live, at tick "
                f"{started['tick']} (log: {started['log']})"
            )


def refuse_log_without_detach(log: str | None, detach: bool) -> None:
    if log is not None and not detach:
        from ..errors import BadInput

        raise BadInput("--log: given without --detach", "add --detach, or drop --log")


def command_line(function: Callable[..., None], values: dict[str, Any]) -> list[str]:
    """The options and arguments that give `function` the `values` it was given, as its
    declarations (`options.py`) spell them, but those the starter keeps for itself: the
    command line of the detached runner. A value the environment gives is left to the
    environment (the runner inherits it), so that no secret shows in the process list."""
    import inspect
    import os
    from typing import get_type_hints

    hints = get_type_hints(function, include_extras=True)
    parameters = inspect.signature(function).parameters
    options: list[str] = []
    arguments: list[str] = []
    for name, value in values.items():
        if name in _STARTER_ONLY or value is None or value is False:
            continue
        declared: Opt = hints[name].__metadata__[0]
        if declared.flag is None:
            arguments.append(os.fspath(value))
            continue
        if value == parameters[name].default:
            continue
        if declared.envvar is not None and os.environ.get(declared.envvar) == str(value):
            continue
        if value is True:
            options.append(declared.flag)
            continue
        for each in value if isinstance(value, list) else [value]:
            options += [
                declared.flag,
                os.fspath(each) if hasattr(each, "__fspath__") else str(each),
            ]
    return [*options, "--", *arguments] if arguments else options


def runner_stop(
    timeout: StopTimeout = 30.0,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Stop the live runner cleanly and wait until it is gone.

    Sends the runner SIGTERM (its pid is in the storage; from the machine it runs on): it
    finishes its tick, writes its checkpoint, summary and a "stopped" session, and exits
    143. Prints the pid and the tick it stopped at. No runner live: "no runner live", exit 0.
    Exit 6 when it is still there after --timeout seconds; exit 4 when it runs on another
    host.

    Examples:
      # Stop the live runner at a checkpoint (`agijobs runner start` continues)
      agijobs runner stop
      # Give a slow tick a minute, then exit 6 if it is still there
      agijobs runner stop --timeout 60 --storage ./storage
    """
    with guard(as_json):
        from ..service import Fabric

        stopped = Fabric(storage).stop_runner(timeout=timeout)
        if as_json:
            print_json("RunnerStopped", stopped)
        elif stopped["pid"] is None:
            print("no runner live")
        else:
            print(f"runner {stopped['pid']} stopped at tick {stopped['tick']} (SIGTERM)")
