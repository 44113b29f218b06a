"""Importers: convert task definitions from other tools into taskseed specs."""
