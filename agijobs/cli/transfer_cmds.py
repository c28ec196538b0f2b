"""export and import: copy a verified run between a database fabric and a directory."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import DEFAULT_STORAGE, JsonOption, StorageOption, guard, make_store, print_json

Other = Annotated[
    str, typer.Argument(help="The other side: a directory, or postgresql://…?fabric=NAME.")
]


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)


def export(
    destination: Other,
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Copy the run in --storage to DESTINATION, which must hold no run.

    The log and checkpoint keep their bytes: events.ndjson and checkpoint.json exported
    from a database equal the directory backend's. The source is verified first (exit 3
    if it fails; nothing written); exit 4 if DESTINATION already holds a run.

    Example: agijobs export --storage "postgresql://ops@db/fabrics?fabric=earth" ./earth-copy
    """
    _copy(storage, destination, "exported", as_json)


def import_(
    source: Annotated[
        str, typer.Argument(help="A storage directory, or postgresql://…?fabric=NAME.")
    ],
    storage: StorageOption = DEFAULT_STORAGE,
    as_json: JsonOption = False,
) -> None:
    """Copy the run in SOURCE into --storage, which must hold no run (export's reverse).

    Example: agijobs import ./earth-copy --storage "postgresql://ops@db/fabrics?fabric=earth"
    """
    _copy(source, storage, "imported", as_json)


def _copy(source: str, target: str, verb: str, as_json: bool) -> None:
    with guard(as_json):
        from ..run.transfer import copy_run

        report = copy_run(make_store(source), make_store(target))
        if as_json:
            print_json(report)
            return
        checkpoint = report["checkpoint"]
        typer.echo(
            f"{verb} {report['name']} ({report['run_id']}): {report['events']} events, "
            f"checkpoint at seq {checkpoint['seq']} (tick {checkpoint['tick']}), "
            f"{len(report['documents'])} documents, {report['sessions']} sessions, "
            f"{report['journal']} journaled commands"
        )
        typer.echo(f"  from {report['from']}")
        typer.echo(f"  to   {report['to']}")
        typer.echo(f"  chain head {report['head']}")
