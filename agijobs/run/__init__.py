"""Running a fabric against its storage: loading a stored run, the recorder and the tick
loop, starting, resuming and simulating runs, owner commands delivered live or at rest,
planning, copying runs between stores, external executors, owner key files."""
