"""export and import: copy a verified run between a database fabric and a directory."""

from typing import Annotated, Any

from .options import DEFAULT_STORAGE, Json, Storage, argument
from .output import guard, print_json

Other = Annotated[str, argument("The other side: a directory, or postgresql://…?fabric=NAME.")]


def export(
    destination: Other,
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Copy the run in --storage to DESTINATION, which must hold no run.

    The log and checkpoint keep their bytes: events.ndjson and checkpoint.json exported
    from a database equal the directory backend's. The source is verified first (exit 3
    if it fails; nothing written); exit 4 if DESTINATION already holds a run.

    Examples:
      # Copy a database fabric to a directory, to audit or archive it
      agijobs export --storage "postgresql://ops@db/fabrics?fabric=earth" ./earth-copy
      # Move a directory's run to a shared database
      agijobs export --storage ./storage "postgresql://ops@db/fabrics?fabric=earth"
    """
    with guard(as_json):
        from ..service import Fabric

        _print(Fabric(storage).export(destination), "exported", as_json)


def import_(
    source: Annotated[str, argument("A storage directory, or postgresql://…?fabric=NAME.")],
    storage: Storage = DEFAULT_STORAGE,
    as_json: Json = False,
) -> None:
    """Copy the run in SOURCE into --storage, which must hold no run (export's reverse).

    SOURCE is verified first (exit 3 if it fails; nothing written); exit 4 if --storage
    already holds a run.

    Examples:
      # Bring a copied run back into an empty database fabric
      agijobs import ./earth-copy --storage "postgresql://ops@db/fabrics?fabric=earth"
      # Restore a copy into a new storage directory, for a drill
      agijobs import ./earth-copy --storage ./drill
    """
    with guard(as_json):
        from ..service import Fabric

        _print(Fabric(storage).import_from(source), "imported", as_json)


def _print(report: dict[str, Any], verb: str, as_json: bool) -> None:
    if as_json:
        print_json("Transfer", report)
        return
    checkpoint = report["checkpoint"]
    print(
        f"{verb} {report['name']} ({report['run_id']}): {report['events']} events, "
        f"checkpoint at seq {checkpoint['seq']} (tick {checkpoint['tick']}), "
        f"{len(report['documents'])} documents, {report['sessions']} sessions, "
        f"{report['journal']} journaled commands"
    )
    print(f"  from {report['from']}")
    print(f"  to   {report['to']}")
    print(f"  chain head {report['head']}")
