from ..build import COUNT, STRING, described, document, obj

KIND = "Error"
DESCRIPTION = "Any command with --json that fails: the error's code, exit code and message."
SCHEMA = document(
    KIND,
    {
        "error": obj(
            {
                "code": described(
                    STRING,
                    "the error's name: bad-input, integrity, conflict, refused, storage, usage, "
                    "runner-exited…",
                ),
                "exit_code": described(COUNT, "the process's exit code"),
                "message": described(STRING, "what happened — what to do"),
            }
        )
    },
)
