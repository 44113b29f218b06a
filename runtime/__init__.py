"""taskseed runtime: execute plans on LLM engines."""
