"""Verifying a stored run: the whole hash chain, the checkpoint against the log, every
shard's counters re-derived from the events, owner authority re-checked from the log, and
(`replay`) the plan run again to the same chain head.

`verify.audit` is the entry; `walk` derives, `chain` re-hashes (in a forked child on two
cores), `authority` re-checks signatures, `replay` re-runs, `report` is what it found.
"""
