"""Translate the reference demo's files into an agijobs scenario document.

The package's face: the names below are its public API. The translation itself is still one
module (`commands`, named for the part of it that stays there) while it is split up.
"""

from .commands import (
    REFERENCE_NODE_LATENCY_MS,
    SECONDS_PER_TICK,
    Translation,
    command_from_reference,
    emit_yaml,
    kind_of,
    read_reference,
    translate_fabric,
    translate_mission,
)

__all__ = [
    "REFERENCE_NODE_LATENCY_MS",
    "SECONDS_PER_TICK",
    "Translation",
    "command_from_reference",
    "emit_yaml",
    "kind_of",
    "read_reference",
    "translate_fabric",
    "translate_mission",
]
