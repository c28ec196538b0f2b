from ..build import COUNT, INTEGER, described, document, nullable, one_of

KIND = "RunnerStopped"
DESCRIPTION = "`runner stop`: the runner stopped at a checkpoint, or none was live."
SCHEMA = document(
    KIND,
    {
        "pid": described(nullable(INTEGER), "the runner's process id (null: no runner live)"),
        "tick": described(nullable(COUNT), "the stored checkpoint's tick (null: none yet)"),
        "how": described(
            one_of("SIGTERM", "none"), "how it was stopped (none: no runner was live)"
        ),
    },
)
