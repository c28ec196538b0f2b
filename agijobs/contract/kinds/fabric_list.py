from ..build import BOOLEAN, COUNT, STRING, array, described, document, nullable, obj, one_of

KIND = "FabricList"
DESCRIPTION = "`fabrics`: the fabrics a storage holds, with their runs; nothing verified."
FABRIC = obj(
    {
        "name": described(
            STRING,
            "the fabric's name (a database: ?fabric=, NAME@RUN_ID when set aside; a "
            "directory: its path)",
        ),
        "storage": described(STRING, "its --storage"),
        "run_id": described(nullable(STRING), "from run.json (null: none)"),
        "scenario": described(nullable(STRING), "the scenario's name (null: not known)"),
        "tick": described(nullable(COUNT), "the tick it reached (null: no checkpoint yet)"),
        "finished": described(BOOLEAN, "its run finished (not live, summary finished)"),
        "live": described(BOOLEAN, "a runner is live on it"),
        "archived": described(BOOLEAN, "a run that `run --fresh` set aside"),
    }
)
SCHEMA = document(
    KIND,
    {
        "storage": described(STRING, "the storage listed"),
        "backend": one_of("directory", "postgresql"),
        "fabrics": described(
            array(FABRIC), "a database's by name; a directory's run, then those in its archive/"
        ),
    },
)
