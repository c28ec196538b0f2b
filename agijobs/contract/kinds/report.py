from ..build import COUNT, STRING, TEXT_LIST, described, document, one_of

KIND = "Report"
DESCRIPTION = "`report`: the report pages and textfile written, and the run they describe."
SCHEMA = document(
    KIND,
    {
        "storage": STRING,
        "name": described(STRING, "the scenario's name"),
        "status": described(
            one_of(
                "finished",
                "stopped",
                "paused",
                "interrupted",
                "running",
                "running, paused",
                "stopped at max_ticks",
                "crashed",
            ),
            "the run's status at the checkpoint the report describes",
        ),
        "tick": described(COUNT, "the checkpoint's tick"),
        "seq": described(COUNT, "the checkpoint's last event"),
        "out": described(STRING, "where the files were written (the storage, or --out)"),
        "written": described(TEXT_LIST, "the files written: report.html, report.md, metrics.prom"),
    },
)
