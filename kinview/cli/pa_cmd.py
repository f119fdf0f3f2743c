"""Sub-commands: placeholder until its issue lands (registers nothing)."""


def register(sub):
    return None
