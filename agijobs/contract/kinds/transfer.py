from ..build import COUNT, SHA256, STRING, TEXT_LIST, described, document, obj

KIND = "Transfer"
DESCRIPTION = "`export` and `import`: what was copied, from where to where."
SCHEMA = document(
    KIND,
    {
        "name": STRING,
        "run_id": STRING,
        "from": STRING,
        "to": STRING,
        "events": COUNT,
        "head": SHA256,
        "checkpoint": obj({"seq": COUNT, "tick": COUNT}),
        "documents": described(TEXT_LIST, "the run's documents copied"),
        "sessions": COUNT,
        "journal": described(COUNT, "journaled live commands"),
        "torn_bytes_dropped": described(COUNT, "a crashed writer's torn last line, not copied"),
    },
)
