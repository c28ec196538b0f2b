from ..build import (
    COUNT,
    INTEGER,
    NUMBER,
    STRING,
    array,
    described,
    document,
    nullable,
    obj,
    open_map,
)
from ..shapes import EXPECT, JOBS, RUN_STATUS
from .plan import INTENT

KIND = "WhatIf"
DESCRIPTION = "`plan --from-storage`: the stored run predicted with and without the intents."
PREDICTION = obj(
    {
        "status": RUN_STATUS,
        "reason": STRING,
        "tick": COUNT,
        "jobs": JOBS,
        "spillovers": COUNT,
        "cost": NUMBER,
        "shards": open_map(
            obj(
                {
                    "drained_at": described(
                        nullable(INTEGER),
                        "the first tick it holds no job (null: never, within the prediction)",
                    ),
                    "completed": COUNT,
                    "failed": COUNT,
                    "queued": COUNT,
                    "in_flight": COUNT,
                    "spilled_in": COUNT,
                    "spilled_out": COUNT,
                }
            ),
            "per shard id",
        ),
        "expect": EXPECT,
    }
)
SCHEMA = document(
    KIND,
    {
        "storage": STRING,
        "from_tick": described(COUNT, "the checkpoint's tick"),
        "now": described(COUNT, "from_tick + 1"),
        "intents": array(INTENT),
        "without": PREDICTION,
        "with": PREDICTION,
        "written_to": described(STRING, "--out"),
    },
    optional=("written_to",),
)
