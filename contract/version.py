"""The taskseed version (read by pyproject.toml and written into plans)."""

VERSION = "0.1.0"
