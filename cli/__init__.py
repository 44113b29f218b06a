"""The taskseed command line."""
