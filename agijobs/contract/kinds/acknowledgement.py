from ..build import COUNT, STRING, array, described, document, nullable, obj, one_of
from ..shapes import EFFECT

KIND = "Acknowledgement"
DESCRIPTION = (
    "Owner commands (pause-all, reroute, set-latency, submit, apply, approve; resume with a live "
    "runner): what was applied, where, and its effect."
)
EVENT = described(
    STRING, "the event that records it: owner.<command>, owner.proposal or owner.approval"
)
SCHEMA = document(
    KIND,
    {
        "command": described(STRING, "the command issued (batch: several applied together)"),
        "mode": described(one_of("live", "at-rest"), "sent to a live runner, or applied at rest"),
        "tick": COUNT,
        "event": EVENT,
        "effect": EFFECT,
        "id": described(nullable(STRING), "the live command's id (null at rest)"),
        "results": described(
            array(obj({"event": EVENT, "effect": EFFECT})), "batch: one per command, in order"
        ),
    },
    optional=("results",),
)
