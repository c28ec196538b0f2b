"""The boundary: what comes in from outside, validated and compiled before the core sees it.

Scenario and plan files (the pydantic models, their loading and their messages), owner
commands from `apply` and the command line, operator intents, the reference demo's files,
and the compilation of a validated scenario into the plain inputs the engine reads.
`plan.py` and `compile.py` never import pydantic: a stored plan that never ticks stays light.
"""
