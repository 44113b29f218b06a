"""Hooks of the golden case: never imported by validation."""


def prompt(doc, prefix="Question: "):
    return prefix + doc["question"].strip()


def has_options(doc):
    return len(doc["options"]) > 1
