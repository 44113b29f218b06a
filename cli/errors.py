"""Exit codes and the error type for bad input the user can fix."""

from __future__ import annotations

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_INTERNAL = 0, 1, 2


class UserError(Exception):
    """Bad input the user can fix: printed as one line, exit code 1."""
