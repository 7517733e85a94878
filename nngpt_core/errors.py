"""User-facing errors: each carries a one-line message and the process exit code the CLI uses."""


class NngptError(Exception):
    """An error the user can act on; the CLI prints `error: <message>` and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


class ConfigError(NngptError):
    """Invalid configuration (a field, a YAML file or a database URL)."""

    exit_code = 2


class StoreError(NngptError):
    """The store cannot be reached or refuses an operation."""


class SignatureMismatchError(NngptError):
    """A MinHash signature was made with settings other than the index's; never compared silently."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
