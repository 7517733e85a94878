"""Scrubbing error texts before they leave the evaluator: no host secrets, no host paths, one short line.

    from nngpt_core.sandbox.scrub import Scrubber
    scrub = Scrubber.for_host(extra_paths={"/tmp/nngpt-sandbox-x1": "<sandbox>"})
    scrub("open /work/main/x.py failed: postgresql://u:pw@db/x")   # 'open <project>/x.py failed: postgresql://u:***@db/x'

Replaced: credentials in URLs; the values of the environment's variables (long values always,
short ones when the name looks secret, and passwords inside URL values); known host paths (the
project, the Python installation, the home directory, the temp and sandbox directories) by
placeholders. Control characters go (no terminal escapes reach a console), whitespace collapses to
single spaces, and the text is cut to a length limit.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

MAX_CHARS = 500
LONG_VALUE = 8
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASS|PWD|AUTH|CRED|COOKIE|SESSION|URL|DSN", re.I)
_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:  # not a URL after all
        return None


def environment_secrets(environ: Mapping[str, str]) -> list[str]:
    """Values of `environ` that must never appear in a stored text."""
    secrets = set()
    for name, value in environ.items():
        if len(value) >= LONG_VALUE or (_SECRET_NAME.search(name) and len(value) >= 4):
            secrets.add(value)
        password = _url_password(value)
        if password and len(password) >= 4:
            secrets.add(str(password))
    return sorted(secrets, key=len, reverse=True)


class Scrubber:
    """A callable that scrubs one text; build it once per evaluator with `for_host`."""

    def __init__(self, paths: Mapping[str, str], secrets: list[str], max_chars: int = MAX_CHARS):
        ordered = sorted(((path, label) for path, label in paths.items() if len(path) > 1), key=lambda item: -len(item[0]))
        # A path only where it is a whole path component chain: /tmp must not touch /var/tmp or /tmpfoo.
        self.paths = [(re.compile(rf"(?<![\w.~-]){re.escape(path)}(?![\w.-])"), label) for path, label in ordered]
        self.secrets = secrets
        self.max_chars = max_chars

    @classmethod
    def for_host(cls, extra_paths: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> Scrubber:
        environ = os.environ if environ is None else environ
        paths = {
            _PROJECT_ROOT: "<project>",
            sys.prefix: "<python>",
            sys.base_prefix: "<python>",
            tempfile.gettempdir(): "<tmp>",
            str(Path.home()): "~",
            os.getcwd(): "<cwd>",
        }
        for path in list(paths):
            paths.setdefault(os.path.realpath(path), paths[path])
        paths.update(extra_paths or {})
        return cls(paths, environment_secrets(environ))

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = _URL_CREDENTIALS.sub(r"\1***@", text)
        for pattern, label in self.paths:
            text = pattern.sub(lambda _match, label=label: label, text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = " ".join(_CONTROL.sub(" ", text).split())
        return text if len(text) <= self.max_chars else text[: self.max_chars - 3] + "..."
