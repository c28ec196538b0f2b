from ..build import STRING, described, document

KIND = "Key"
DESCRIPTION = "`keys new` and `keys show`: an owner key's public half and its config line."
SCHEMA = document(
    KIND,
    {
        "name": STRING,
        "path": described(STRING, "the private key's file"),
        "public_key": STRING,
        "fingerprint": STRING,
        "config_line": described(STRING, "the line to paste under fabric -> owner -> keys"),
    },
)
