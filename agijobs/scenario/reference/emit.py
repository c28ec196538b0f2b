"""Writing a translation out as a scenario file the operator keeps.

`emit_yaml` is what `agijobs plan --emit-scenario` writes: the scenario document, headed by
comments that name the reference file it came from and list every notice, so the operator
can review it once and drop the reference files.
"""

from __future__ import annotations

from pathlib import Path

from .translate import Translation


def emit_yaml(translation: Translation, source: Path) -> str:
    """The scenario as YAML (keys in document order), headed by comments naming the source
    file and listing the notices, so the operator can keep it and drop the reference files."""
    import yaml

    lines = [
        f"# agijobs scenario translated from the reference demo file {source}",
        "# Review it, then run agijobs on this file instead of the reference files.",
    ]
    if translation.notices:
        lines.append("# Notices (ignored or defaulted):")
        lines.extend(f"#   - {' '.join(n.splitlines())}" for n in translation.notices)
    else:
        lines.append("# Notices: none; everything was translated.")
    body = yaml.safe_dump(translation.scenario, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body
