"""`agijobs report`: a stored run's report pages and Prometheus textfile, for any backend,
written where the operator says.

A run writes its reports into its storage when it stops; a PostgreSQL-stored run keeps them
as rows no browser or node_exporter reads, and a live or crashed run has none that is
current. This makes them again from what the storage holds — the verified checkpoint, the
summary when it describes that checkpoint, and the per-tick metrics rows — at the cost of a
`status`: no job row is read and the log is not rescanned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..store import Store, no_run
from ..store.files import PROMETHEUS, atomic_write
from ..views.metrics import prometheus_text, sample
from ..views.report import REPORT_HTML, REPORT_MD, report_data
from ..views.summary import build_summary
from .loading import load_run, read_json
from .sessions import runner_is_live
from .status import run_state

REPORT_FILES = (REPORT_HTML, REPORT_MD, PROMETHEUS)


def make_report(store: Store, out: Path | None) -> dict[str, Any]:
    """Write report.html, report.md and metrics.prom of the run in `store` into `out` (a
    directory, made if missing), or into the storage itself when `out` is None; what was
    written, and the checkpoint it describes."""
    if out is not None and out.exists() and not out.is_dir():
        raise BadInput(f"--out: {out} is a file", "name a directory to write the report into")
    if not store.has_run():
        raise no_run(store)
    loaded = load_run(store)
    engine = loaded.engine(jobs=False)  # counts only, as `status` reads them
    plan = loaded.plan
    summary = read_json(store, "summary.json")
    live = runner_is_live(store)
    if summary is None or summary.get("seq") != loaded.seq or live:
        state = run_state(live, store.read_sessions(), summary, engine.state.paused)
        summary = build_summary(
            plan,
            engine,
            loaded.seq,
            loaded.scan.mark_head,
            state,
            f"as of the checkpoint at tick {engine.state.tick}",
        )
    from ..views.report_pages import render_html, render_markdown

    data = report_data(store, summary, engine)
    pages = {
        REPORT_HTML: render_html(data).encode("utf-8"),
        REPORT_MD: render_markdown(data).encode("utf-8"),
        PROMETHEUS: prometheus_text(sample(plan.name, engine, loaded.seq)),
    }
    if out is None:
        for name, page in pages.items():
            store.write_document(name, page)
        where = store.location
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, page in pages.items():
            atomic_write(out / name, page, durable=False)  # derived: made again at will
        where = str(out)
    return {
        "storage": store.location,
        "name": plan.name,
        "status": summary["status"],
        "tick": engine.state.tick,
        "seq": loaded.seq,
        "out": where,
        "written": [f"{where}/{name}" for name in REPORT_FILES],
    }
