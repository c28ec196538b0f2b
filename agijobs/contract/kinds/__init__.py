"""One module per kind of --json document: `KIND` (its CamelCase name), `DESCRIPTION` (one
line: which commands print it) and `SCHEMA` (written with `agijobs.contract.build`).

A new kind is one new module here; `agijobs.contract` finds it (docs/json-contract.md,
"Adding a kind").
"""
