"""taskseed compiler: task specs in YAML -> execution plans. See README.md here."""
