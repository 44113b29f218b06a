"""Tests of the importers (`taskseed import`)."""
