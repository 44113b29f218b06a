def two(doc, other):
    return doc["question"] + other


def none():
    return "?"


notes = "a string, not a function"
