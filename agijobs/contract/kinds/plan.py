from ..build import (
    COUNT,
    SHA256,
    STRING,
    TEXT_LIST,
    array,
    described,
    document,
    nullable,
    obj,
    open_map,
)
from ..shapes import EXPECT, JOBS, RUN_STATUS, SHARD_TOTALS

KIND = "Plan"
DESCRIPTION = "`plan SCENARIO`: the plan written, its id and the dry run's prediction."
INTENT = obj(
    {
        "text": described(STRING, "the operator's sentence"),
        "kind": described(STRING, "schedule, trigger, fault or expect"),
        "became": described(STRING, "what it became, in words"),
        "entry": described(
            {"type": "object"},
            "the scenario piece it became (`agijobs schema scenario`)",
        ),
    }
)
SCHEMA = document(
    KIND,
    {
        "plan_id": described(SHA256, "sha256 of the plan's content"),
        "path": STRING,
        "name": STRING,
        "predicted": obj(
            {
                "status": RUN_STATUS,
                "reason": STRING,
                "tick": COUNT,
                "events": COUNT,
                "head": SHA256,
                "events_digest": SHA256,
                "jobs": JOBS,
                "spillovers": COUNT,
                "owner_actions": COUNT,
                "shards": open_map(SHARD_TOTALS, "per shard id"),
                "expect": EXPECT,
            }
        ),
        "notices": described(TEXT_LIST, "what a reference file had that agijobs ignores"),
        "emitted_scenario": described(nullable(STRING), "--emit-scenario's file"),
        "intents": array(INTENT),
        "signed_by": TEXT_LIST,
        "signatures_needed": COUNT,
    },
)
