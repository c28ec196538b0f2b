"""The machine contract (agijobs/v1): a JSON Schema (draft 2020-12) for every kind of
--json document and for every event of `events.ndjson`.

Schemas are data: written once here (`build`'s words, one module per output kind under
`kinds/`, the event types in `events`), printed by `agijobs schema NAME`, rendered in
docs/json-contract.md, and held against every document the test suite prints and every
event of every shipped scenario. Importing this package imports no pydantic, Rich or YAML.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from . import kinds as _kinds
from .build import API_VERSION, Schema, render
from .events import DATA, ENVELOPE, EVENT_TYPES, named_effect

__all__ = [
    "API_VERSION",
    "EVENT_TYPES",
    "event_schema",
    "kind_descriptions",
    "kind_names",
    "kind_schema",
    "named_effect",
]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID = "urn:agijobs:schema:v1:"  # a name, not a place: nothing is fetched


@functools.cache
def _kind_modules() -> dict[str, Any]:
    found = {}
    for info in pkgutil.iter_modules(_kinds.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{_kinds.__name__}.{info.name}")
            found[module.KIND] = module
    return dict(sorted(found.items()))


def kind_names() -> list[str]:
    """Every kind of --json document, sorted."""
    return list(_kind_modules())


def kind_descriptions() -> dict[str, str]:
    return {name: module.DESCRIPTION for name, module in _kind_modules().items()}


def kind_schema(kind: str) -> Schema | None:
    """The JSON Schema of one kind of document (None: no such kind)."""
    module = _kind_modules().get(kind)
    if module is None:
        return None
    return {
        "$schema": DIALECT,
        "$id": f"{ID}{kind}",
        "title": f"{API_VERSION} {kind}",
        "description": module.DESCRIPTION,
        **render(module.SCHEMA, named=True),
    }


def event_data_schema(event_type: str) -> tuple[str, Schema]:
    """An event type's description, and its `data`'s schema as the log records it."""
    description, data = DATA[event_type]
    return description, render(data, named=False)


def event_schema(event_type: str | None = None) -> Schema | None:
    """The schema of an `events.ndjson` line: of any type (None), or of one type (None: no
    such type). Each type's `data` is in `$defs` under the type's name."""
    if event_type is not None and event_type not in DATA:
        return None
    types = EVENT_TYPES if event_type is None else (event_type,)
    defs = {}
    for name in types:
        description, data = event_data_schema(name)
        defs[name] = {"description": description, **data}
    envelope = render(ENVELOPE, named=False)
    if event_type is not None:
        envelope = {
            **envelope,
            "properties": {**envelope["properties"], "type": {"const": event_type}},
        }
    title = "an events.ndjson line" if event_type is None else f"a {event_type} event"
    return {
        "$schema": DIALECT,
        "$id": f"{ID}{'events' if event_type is None else event_type}",
        "title": f"{API_VERSION}: {title}",
        **envelope,
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}},
                "then": {"properties": {"data": {"$ref": f"#/$defs/{name}"}}},
            }
            for name in types
        ],
        "$defs": defs,
    }


def names() -> list[str]:
    """What `agijobs schema NAME` knows besides `scenario`: `events`, each kind, and each
    event type."""
    return ["events", *kind_names(), *EVENT_TYPES]


def schema(name: str) -> Schema | None:
    """The schema `name` (see `names`), or None."""
    if name == "events":
        return event_schema()
    return kind_schema(name) or event_schema(name)
