from ..build import BOOLEAN, COUNT, INTEGER, STRING, described, document, nullable

KIND = "RunnerStarted"
DESCRIPTION = "`run --detach`, `runner start --detach`: the background runner, once it is live."
SCHEMA = document(
    KIND,
    {
        "pid": described(INTEGER, "the detached runner's process id"),
        "storage": described(STRING, "the storage it runs on"),
        "log": described(STRING, "the file its output is appended to"),
        "tick": described(nullable(COUNT), "its checkpoint's tick (null: none yet)"),
        "live": described(BOOLEAN, "true: seen live; false: it exited 0 before it was seen live"),
    },
)
