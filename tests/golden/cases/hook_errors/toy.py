"""Outside the spec folder of the golden case: a hook may not name it."""
