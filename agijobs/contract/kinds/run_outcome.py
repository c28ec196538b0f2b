from ..build import STRING, TEXT_LIST, described, document, nullable
from ..shapes import SUMMARY_FIELDS

KIND = "RunOutcome"
DESCRIPTION = "`run` and `resume` (continued here): the run's summary as it stopped."
SCHEMA = document(
    KIND,
    {
        **SUMMARY_FIELDS,
        "expect_failures": described(TEXT_LIST, "as expect -> failures (exit 1 when any)"),
        "report": described(nullable(STRING), "where report.html was written"),
    },
    optional=("expect",),
)
