"""The few words the schemas are written in: plain JSON Schema (draft 2020-12) as Python
data, so that a schema reads like the document it describes and stays one small module.

`Pair` is the one word that is not JSON Schema: a value that an owner command or a fault
changed, recorded in the event log as a positional `[before, after]` array and printed in
the JSON outputs as `{"before": …, "after": …}`. Both forms come from the same `Pair`
(`render`), so the log's schema and the outputs' cannot disagree on what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
SHA256: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
TEXT_LIST: Schema = {"type": "array", "items": STRING}


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def nullable(schema: Schema) -> Schema:
    """`schema`, or null."""
    return {"anyOf": [schema, NULL]}


def one_of(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Any) -> Schema:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> Schema:
    """A closed object: every property required but the `optional` ones, and no other
    property allowed, so a field added to a document fails its schema until the schema
    says so (docs/json-contract.md, "Adding a field")."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def open_map(values: Any, description: str) -> Schema:
    """An object keyed by ids (shards, event types) or by the operator's own names
    (a node's metadata): any key, each value of one shape."""
    return {"type": "object", "additionalProperties": values, "description": description}


@dataclass(frozen=True, slots=True)
class Pair:
    """A value before and after a change (see the module's docstring)."""

    value: Any  # the schema of each side
    description: str


@dataclass(frozen=True, slots=True)
class Changes:
    """A map of the fields a command changed, each a `Pair`; only changed fields appear."""

    fields: dict[str, Pair]
    description: str


def render(schema: Any, *, named: bool) -> Any:
    """`schema` as JSON Schema: each `Pair` as `[before, after]` (the event log, `named`
    False) or as `{"before", "after"}` (the JSON outputs, `named` True)."""
    if isinstance(schema, Pair):
        side = render(schema.value, named=named)
        if named:
            return described(obj({"before": side, "after": side}), schema.description)
        return {
            "type": "array",
            "description": f"[before, after]: {schema.description}",
            "prefixItems": [described(side, "before"), described(side, "after")],
            "minItems": 2,
            "maxItems": 2,
        }
    if isinstance(schema, Changes):
        fields = {name: render(pair, named=named) for name, pair in schema.fields.items()}
        return described(obj(fields, optional=tuple(fields)), schema.description)
    if isinstance(schema, dict):
        return {key: render(value, named=named) for key, value in schema.items()}
    if isinstance(schema, list):
        return [render(value, named=named) for value in schema]
    return schema


def pair_fields(schema: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The names of an effect's `Pair` fields and of its `Changes` fields, in any of its
    variants (an effect may take one of several shapes: `anyOf`)."""
    pairs: set[str] = set()
    changes: set[str] = set()
    for variant in schema.get("anyOf", [schema]):
        for name, field in variant.get("properties", {}).items():
            if isinstance(field, Pair):
                pairs.add(name)
            elif isinstance(field, Changes):
                changes.add(name)
    return frozenset(pairs), frozenset(changes)


API_VERSION = "agijobs/v1"


def document(kind: str, properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> Schema:
    """A --json document of `kind`: its `api_version` and `kind`, then its own fields."""
    return obj(
        {
            "api_version": {"const": API_VERSION},
            "kind": {"const": kind},
            **properties,
        },
        optional=optional,
    )
