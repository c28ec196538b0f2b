"""The deterministic core: shards with their queues and spillover policies, the router,
the marketplace of nodes, owner commands and authority, one tick at a time. No I/O, no
clock, no global randomness, no pydantic: it reads what `agijobs.scenario` compiled."""
