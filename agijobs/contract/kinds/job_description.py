from ..build import COUNT, INTEGER, STRING, described, document, nullable, obj, one_of
from ..shapes import HISTORY

KIND = "JobDescription"
DESCRIPTION = "`describe job`: a job's state now, where it is, and every event that names it."
SCHEMA = document(
    KIND,
    {
        "job": described(STRING, "the job's id"),
        "state": described(
            one_of(
                "queued",
                "deferred",
                "running",
                "completed",
                "failed",
                "cancelled",
                "rejected",
                "unknown",
            ),
            "after its last event of its own",
        ),
        "shard": described(nullable(STRING), "the shard it is in (null: not known)"),
        "node": described(nullable(STRING), "the node running (or that completed) it"),
        "submitted": described(
            nullable(obj({"tick": COUNT, "shard": STRING, "value": INTEGER})),
            "its job.submitted event (null: none in the log)",
        ),
        "since": described(obj({"tick": COUNT, "seq": COUNT}), "its last event"),
        "moves": described(COUNT, "times it spilled to another shard"),
        "requeues": described(COUNT, "times it went back to a queue"),
        "history": HISTORY,
    },
)
