def prompt(doc):
    return doc["question"
