"""The one exception the API raises for bad input: its message is the line a user sees."""


class RetroxlError(Exception):
    """Bad input or an unusable file; ``str(e)`` is one clear line."""
