"""Errors the runtime reports to the user as one line (exit 1), never as a traceback."""

from __future__ import annotations


class SeedError(Exception):
    """A seed source that cannot be read: a one-line message for the user."""
