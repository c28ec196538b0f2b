from ..build import (
    BOOLEAN,
    COUNT,
    SHA256,
    STRING,
    TEXT_LIST,
    array,
    described,
    document,
    nullable,
    obj,
    one_of,
    open_map,
)
from ..events import GOVERNANCE, INPUT
from ..shapes import AUTHORITY_OPEN, EFFECT
from .status import SESSION

KIND = "Audit"
DESCRIPTION = "`audit`: what was proved, what was not, and the governance timeline."
TALLY = described(obj({"count": COUNT, "value": {"type": "integer"}}), "jobs and their value")
TOTALS = (
    "submitted",
    "spilled_in",
    "spilled_out",
    "completed",
    "failed",
    "cancelled",
    "queued",
    "in_flight",
)
ENTRY = obj(
    {
        "seq": COUNT,
        "tick": COUNT,
        "command": STRING,
        "args": INPUT["properties"]["args"],
        "actor": STRING,
        "reason": STRING,
        "source": INPUT["properties"]["source"],
        "issued_at": INPUT["properties"]["issued_at"],
        "outcome": one_of("applied", "rejected", "proposed", "approved", "refused"),
        "effect": described(
            {"anyOf": [EFFECT, STRING]}, "the effect; for a rejected or refused one, the error"
        ),
        "authorised_by": obj({"plan_signed_by": TEXT_LIST}),
        "refusal": described(STRING, "the refusal's code"),
        "signed_by": TEXT_LIST,
        "approvals": described(STRING, "N of M"),
        "signatures_verified": BOOLEAN,
    },
    optional=("authorised_by", "refusal", "signed_by", "approvals", "signatures_verified"),
)
AUTHORITY_SIGNED = obj(
    {
        "mode": {"const": "signed"},
        "authenticated": {"const": True},
        "plan_signed_by": TEXT_LIST,
        "keys_in_force": GOVERNANCE,
        "signatures_verified": BOOLEAN,
    }
)
SCHEMA = document(
    KIND,
    {
        "ok": {"const": True},
        "mode": one_of("derived", "quick"),
        "proved": TEXT_LIST,
        "not_proved": TEXT_LIST,
        "storage": STRING,
        "events": COUNT,
        "head": SHA256,
        "checkpoint": obj({"seq": COUNT, "tick": COUNT}),
        "after_checkpoint": described(COUNT, "complete events a crashed writer left after it"),
        "torn_bytes": COUNT,
        "by_type": open_map(COUNT, "events per event type"),
        "governance": described(array(ENTRY), "the governance timeline"),
        "sessions": array(SESSION),
        "conservation": obj(
            {
                "holds": BOOLEAN,
                "totals": obj(dict.fromkeys(TOTALS, TALLY)),
            }
        ),
        "replay": described(
            nullable(
                obj(
                    {
                        "matches": BOOLEAN,
                        "tick": COUNT,
                        "seq": COUNT,
                        "head": SHA256,
                        "events": STRING,
                        "checkpoint": STRING,
                        "summary": STRING,
                    }
                )
            ),
            "the derivation's result (null with --quick)",
        ),
        "notes": TEXT_LIST,
        "authority": {"oneOf": [AUTHORITY_OPEN, AUTHORITY_SIGNED]},
        "witness": described(
            nullable(
                obj(
                    {
                        "source": STRING,
                        "run_id": STRING,
                        "records": COUNT,
                        "proved_seq": COUNT,
                        "ended_seq": nullable(COUNT),
                        "other_runs_records": COUNT,
                    }
                )
            ),
            "--witness: what it held and proved",
        ),
        "timeline_filter": described(
            obj(
                {
                    "actor": STRING,
                    "command": STRING,
                    "since_tick": COUNT,
                    "until_tick": COUNT,
                    "rows": described(COUNT, "rows of the timeline kept"),
                    "of": described(COUNT, "rows of the whole timeline"),
                },
                optional=("actor", "command", "since_tick", "until_tick"),
            ),
            "only when --actor, --command, --since-tick or --until-tick cut the timeline (the "
            "filters given, each optional); never changes what was proved",
        ),
    },
    optional=("timeline_filter",),
)
