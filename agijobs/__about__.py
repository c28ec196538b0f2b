"""The version: read by the package, by `agijobs plan` (recorded in plans) and by the build."""

__version__ = "0.1.0"
