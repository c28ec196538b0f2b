"""The durable record's formats: canonical bytes, the hash-chained event log, the sealed
checkpoint, its job table, and the owners' signatures. Bytes in, bytes out: no storage, no
fabric semantics."""
