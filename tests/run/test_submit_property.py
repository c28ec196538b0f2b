"""Work intake as a property (hypothesis), through the library: any batch the fabric accepts
keeps every job accounted for and re-makes byte for byte under `audit`; any batch it refuses
leaves the storage byte-for-byte as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agijobs import Fabric
from agijobs.errors import BadInput

from ..helpers import file_hashes, scenario_dict, write_scenario

ENTRY = st.fixed_dictionaries(
    {
        "shard": st.sampled_from(["earth", "luna", "mars"]),  # mars does not exist
        "skills": st.lists(st.sampled_from(["finance", "nav"]), min_size=1, max_size=2),
        "duration": st.integers(1, 4),
        "value": st.integers(0, 50),
    }
)
NAMING = st.one_of(
    st.fixed_dictionaries({"id": st.sampled_from(["a", "b", "f-000002", "s-000003"])}),
    st.fixed_dictionaries({"prefix": st.sampled_from(["s", "t", "f"]), "count": st.integers(1, 6)}),
)
BATCH = st.lists(st.tuples(ENTRY, NAMING).map(lambda p: {**p[0], **p[1]}), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("intake")
    data = scenario_dict()
    data["workload"][0]["arrive"] = {"start": 1, "per_tick": 1}  # ten ticks of arrivals
    return write_scenario(folder / "s.yaml", data)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.tuples(BATCH, st.integers(0, 2)), min_size=1, max_size=3))
def test_accepted_batches_conserve_jobs_and_replay_refused_ones_change_nothing(
    scenario: Path, tmp_path_factory: pytest.TempPathFactory, batches: list[Any]
) -> None:
    storage = tmp_path_factory.mktemp("run") / "storage"
    fabric = Fabric(storage)
    fabric.run(scenario, stop_after_ticks=1)
    accepted = 0
    for jobs, ticks in batches:
        data = b"".join(orjson.dumps(job) + b"\n" for job in jobs)
        before = file_hashes(storage)
        try:
            result = fabric.submit("-", "property", data=data)
        except BadInput:
            assert file_hashes(storage) == before
        else:
            assert result.effect["jobs"] == sum(job.get("count", 1) for job in jobs)
            accepted += result.effect["jobs"]
        if ticks:
            fabric.start_runner(stop_after_ticks=ticks)  # the run lasts longer than these
    fabric.start_runner()  # to the end
    report = fabric.audit()  # raises IntegrityError at the first byte that differs
    assert report.replay is not None and report.replay["events"] == "identical"
    totals = report.conservation["totals"]
    assert totals["submitted"][0] == 10 + accepted == totals["completed"][0]
