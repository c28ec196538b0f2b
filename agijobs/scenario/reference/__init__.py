"""Translate the reference demo's files into an agijobs scenario document.

Operators of the planetary orchestrator demo keep a mission plan, a fabric config, a job
blueprint and an owner-commands file, all camelCase JSON. `translate_mission` and
`translate_fabric` turn them into one scenario document (the snake_case shape of
`agijobs.scenario.models.ScenarioFile`) plus notices saying what was ignored or defaulted, and
`emit_yaml` writes it out so the operator can migrate for good.

Errors name the reference file and the key path inside it in the reference's own keys
(``fabric.json: nodes -> 2 -> capacity: must be a whole number > 0 (got 'x')``). The
document is validated afterwards by `agijobs.scenario.loading`, which knows nothing of these shapes.

The modules, each importing only modules listed before it:

- `fields`: where a value sits in a reference file (`At`), and the readers that check it
- `files`: reading reference files and recognising them by content (`kind_of`)
- `fabric`: the fabric config: owner, shards, routers and spillover, nodes
- `blueprint`: the job blueprint's job groups, as the workload
- `commands`: owner commands, as a schedule or one at a time for `agijobs apply`
- `translate`: the entry points, and the mission plan's run settings
- `emit`: the translation as a YAML scenario file
"""

from .commands import command_from_reference
from .emit import emit_yaml
from .fabric import REFERENCE_NODE_LATENCY_MS, SECONDS_PER_TICK
from .files import kind_of, read_reference
from .translate import Translation, translate_fabric, translate_mission

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
