"""The one exception type the CLI turns into a clean one-line error."""


class KiaiError(Exception):
    """An expected failure with a message meant for the user (no traceback)."""

    exit_code = 1
