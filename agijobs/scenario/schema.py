"""The JSON Schema of a scenario file (`agijobs schema`), from the models that validate it."""

from __future__ import annotations

from typing import Any

from .commands import COMMAND_MODELS
from .models import ScenarioFile


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (`agijobs schema`)."""
    schema = ScenarioFile.model_json_schema()
    definitions = schema["$defs"]
    # Schedule entries are written flat ({tick, command: NAME, ...arguments}), not as the
    # nested model: one variant per command, its arguments beside tick/when/repeat/note.
    entry = definitions["ScheduleEntry"]["properties"]
    timing = {key: entry[key] for key in ("tick", "when", "repeat", "note")}
    variants = []
    for name, model in COMMAND_MODELS.items():
        command = definitions[model.__name__]
        variants.append(
            {
                "title": name,
                "type": "object",
                "properties": {**timing, **command["properties"]},
                "required": command.get("required", []),
                "additionalProperties": False,
            }
        )
    definitions["ScheduleEntry"] = {
        "description": "An owner command at `tick`, or a trigger (`when`)",
        "oneOf": variants,
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "agijobs scenario"
    # A scenario may name its fabric file instead of giving it inline.
    schema["properties"]["fabric"] = {
        "anyOf": [
            schema["properties"]["fabric"],
            {"type": "string", "description": "path of a fabric file"},
        ]
    }
    return schema
