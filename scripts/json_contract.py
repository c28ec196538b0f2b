"""Write the generated half of docs/json-contract.md from the published schemas
(agijobs.contract), so that the page cannot go stale: every --json kind and every event
type, with its fields.

Usage:
    .venv/bin/python scripts/json_contract.py            # rewrite docs/json-contract.md
    .venv/bin/python scripts/json_contract.py --check    # exit 1 with a diff when stale

Only the text between the two markers below is written; the prose around it (the
compatibility promise, how to add a kind) is edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generated import keep_current

from agijobs import contract

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "json-contract.md"
REGENERATE = ".venv/bin/python scripts/json_contract.py"
BEGIN = f"<!-- generated from agijobs.contract; do not edit. Regenerate: {REGENERATE} -->"
END = "<!-- end of generated -->"


def type_of(schema: Any) -> str:
    """A schema's type in a few words."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    if "const" in schema:
        return f"`{_json(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{_json(value)}`" for value in schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        variants = schema.get("anyOf") or schema["oneOf"]
        if len(variants) == 2 and {"type": "null"} in variants:
            other = next(v for v in variants if v != {"type": "null"})
            return f"{type_of(other)} or null"
        if all(isinstance(v, dict) and "properties" in v for v in variants):
            return f"object (one of {len(variants)} shapes)"
        if len(variants) > 3:
            return "an owner command's effect (the `effect` of its owner.* event type)"
        return " or ".join(type_of(v) for v in variants)
    kind = schema.get("type")
    if kind is None and "prefixItems" not in schema:
        return "any"
    if "prefixItems" in schema:
        return f"[before, after] of {type_of(schema['prefixItems'][0])}"
    if kind == "array":
        return f"array of {type_of(schema.get('items'))}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if "properties" in schema:
            return "object"
        if isinstance(values, dict):
            return f"map of {type_of(values)}" if values else "map"
        return "object"
    if schema.get("pattern") == "^[0-9a-f]{64}$":
        return "sha256 (hex)"
    if kind == "integer" and schema.get("minimum") == 0:
        return "integer ≥ 0"
    return str(kind)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


INPUT = "input"  # an owner event's command input: described once, under its own heading
INPUT_LINK = "the command as issued ([its fields](#the-input-of-an-owner-command))"


def rows(schema: dict[str, Any], prefix: str = "", shape: str = "") -> list[str]:
    """One table row per field, nested objects' fields beneath theirs (`a.b`, `a[].b`)."""
    out = []
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        note = field.get("description", "") if isinstance(field, dict) else ""
        optional = "" if name in required else " (optional)"
        if path == INPUT and prefix == "" and shape == "" and "hash" not in required:
            out.append(f"| `{path}` | object | {INPUT_LINK} |")
            continue
        out.append(f"| `{path}`{optional}{shape} | {type_of(field)} | {_cell(note)} |")
        out += rows_within(field, path)
    return out


def rows_within(field: Any, path: str) -> list[str]:
    if not isinstance(field, dict):
        return []
    if "properties" in field:
        return rows(field, f"{path}.")
    if field.get("type") == "array" and isinstance(field.get("items"), dict):
        return rows_within(field["items"], f"{path}[]")
    values = field.get("additionalProperties")
    if isinstance(values, dict) and "properties" in values:
        return rows(values, f"{path}.<id>.")
    variants = field.get("anyOf") or field.get("oneOf") or []
    if len(variants) == 2 and {"type": "null"} in variants:
        other = next(v for v in variants if v != {"type": "null"})
        return rows_within(other, path)
    if 1 < len(variants) <= 3 and all("properties" in v for v in variants):
        return [
            row
            for number, variant in enumerate(variants, 1)
            for row in rows(variant, f"{path}.", f" (shape {number})")
        ]
    return []


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(schema: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    body = [row for row in rows(schema) if not row.startswith(tuple(f"| `{s}" for s in skip))]
    return ["| field | type | meaning |", "|---|---|---|", *body] if body else ["(no fields)"]


def generated() -> str:
    out = [BEGIN, "", "### Output kinds", ""]
    for kind in contract.kind_names():
        out.append(f"- [`{kind}`](#{kind.lower()}): {contract.kind_descriptions()[kind]}")
    for kind in contract.kind_names():
        schema = contract.kind_schema(kind)
        assert schema is not None
        out += ["", f"#### {kind}", "", contract.kind_descriptions()[kind], ""]
        variants = schema.get("oneOf", [schema])
        for number, variant in enumerate(variants, 1):
            if len(variants) > 1:
                out += [f"Shape {number} of {len(variants)}:", ""]
            out += [*table(variant, skip=("api_version", "kind")), ""]
        out.pop()
    out += ["", "### Event types", ""]
    out += [
        "Every line of `events.ndjson`: `seq` (from 1), `tick`, `type`, `hash` and `data`;",
        "`agijobs schema events` is the schema of any line, `agijobs schema TYPE` of one type.",
        "",
        "| type | when | data |",
        "|---|---|---|",
    ]
    for name in contract.EVENT_TYPES:
        description, data = contract.event_data_schema(name)
        fields = ", ".join(f"`{field}`" for field in data["properties"])
        out.append(f"| [`{name}`](#{name.replace('.', '')}) | {_cell(description)} | {fields} |")
    _, rejected = contract.event_data_schema("owner.rejected")
    out += ["", "#### The input of an owner command", ""]
    out += [
        "Every `owner.*` and `governance.*` event that records a command holds it as `input`:",
        "",
        *table(rejected["properties"]["input"]),
    ]
    for name in contract.EVENT_TYPES:
        description, data = contract.event_data_schema(name)
        out += ["", f"#### {name}", "", f"{description[0].upper()}{description[1:]}.", ""]
        out += table(data)
    out += ["", END]
    return "\n".join(out)


def render(current: str) -> str:
    """`current` with its generated part replaced (appended when it has none)."""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + generated() + tail
    return current.rstrip("\n") + "\n\n" + generated() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="default: docs/json-contract.md")
    args = parser.parse_args(argv)
    path: Path = args.out
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    wanted = render(current)
    source = "the published schemas"
    if not keep_current(
        path, current, wanted, check=args.check, source=source, regenerate=REGENERATE
    ):
        return 1
    if not args.check:
        kinds, types = len(contract.kind_names()), len(contract.EVENT_TYPES)
        print(f"{path}: {kinds} kinds, {types} event types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
