"""taskseed contract: what the compiler writes and the runtime reads. See README.md here."""
