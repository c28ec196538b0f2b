"""Every bound an input is held to, in one place (docs/scenario-format.md, "Limits").

The bounds keep any input from taking a process down. No pydantic here: the owner
commands' fast path may read these too.
"""

from __future__ import annotations

# Reading a document (agijobs.scenario.documents).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # levels of lists and mappings
MAX_NODES = 4_000_000  # values in a YAML document once its aliases are expanded
