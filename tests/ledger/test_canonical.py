from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agijobs.ledger.canonical import GENESIS_HASH, chain_hash, dumps, encode_event, split_event_line

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    st.dictionaries(st.text(), json_values, max_size=5),
    st.integers(1, 10**9),
    st.integers(0, 10**9),
    st.sampled_from(["job.assigned", "owner.reroute"]),
)
def test_event_line_is_canonical_and_splits_back(
    data: dict[str, Any], seq: int, tick: int, kind: str
) -> None:
    line, digest = encode_event(GENESIS_HASH, seq, tick, kind, data)
    event = {"data": data, "seq": seq, "tick": tick, "type": kind}
    assert line == dumps({**event, "hash": digest})
    body, claimed = split_event_line(line)
    assert body == dumps(event)
    assert claimed == digest == chain_hash(GENESIS_HASH, body)
    assert orjson.loads(line)["data"] == data


@given(
    st.integers(0, 10**6),
    st.dictionaries(st.sampled_from(["shards", "nodes", "x"]), json_values, max_size=3),
)
def test_spliced_checkpoint_is_the_canonical_encoding_and_verifies(
    seq: int, state: dict[str, Any]
) -> None:
    from agijobs.ledger.checkpoint import decode_checkpoint, encode_checkpoint

    state = {**state, "tick": 5}
    data = encode_checkpoint(inputs_id="i" * 64, seq=seq, head="ab" * 32, state=state)
    assert data == dumps(orjson.loads(data)) + b"\n"
    assert decode_checkpoint(data)["state"] == orjson.loads(dumps(state))
