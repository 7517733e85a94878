"""Fetch and verify LEMUR: the source archive of ABrain-One's nn-dataset, pinned by version and sha256.

    from nngpt_core.lemur.fetch import fetch_archive
    path = fetch_archive(cache_dir)                                   # pip download, verified, cached
    path = fetch_archive(cache_dir, source=Path("nn_dataset-2.1.2.tar.gz"))   # a local copy (offline machines)

The package is never installed: its own dependencies are heavy, and its wheel and later releases
no longer ship the model files. pip only downloads the source distribution (no dependencies, no
wheels). A file whose sha256 differs from the pinned one is refused with a one-line error and is
not cached; a cached archive is verified again before each use.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from nngpt_core.errors import NngptError, first_line

PACKAGE = "nn-dataset"
DEFAULT_VERSION = "2.1.2"
# sha256 of each release's source archive as published on PyPI; a release without an entry is refused.
PINNED_SHA256: dict[str, str] = {
    "2.1.2": "b72f4879289653ef38c10e65f5d58bf12823f77a543915841fa4d7afdd083f5a",
}
_CHUNK = 1 << 20


def archive_name(version: str) -> str:
    return f"nn_dataset-{version}.tar.gz"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pinned_sha256(version: str, pinned: Mapping[str, str] = PINNED_SHA256) -> str:
    try:
        return pinned[version]
    except KeyError:
        raise NngptError(f"no pinned sha256 for {PACKAGE} {version} (pinned: {', '.join(sorted(pinned))})") from None


def verify_archive(path: Path, version: str, pinned: Mapping[str, str] = PINNED_SHA256) -> None:
    """Raise NngptError unless `path` is the pinned source archive of `version`."""
    expected = pinned_sha256(version, pinned)
    if not path.is_file():
        raise NngptError(f"{path}: no such file")
    actual = sha256_of(path)
    if actual != expected:
        raise NngptError(
            f"{path}: sha256 {actual[:16]}... is not the pinned {expected[:16]}... of {PACKAGE}=={version}; refused"
        )


def cached_archive(cache_dir: Path, version: str = DEFAULT_VERSION) -> Path:
    """The verified cached archive of `version`; NngptError (with the command that fetches it) when absent."""
    path = Path(cache_dir) / archive_name(version)
    if not path.is_file():
        raise NngptError(f"{PACKAGE} {version} is not cached in {cache_dir}: run `nngpt lemur fetch --version {version}` first")
    verify_archive(path, version)
    return path


def _pip_download(version: str, into: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
        "--disable-pip-version-check", "--quiet", f"{PACKAGE}=={version}", "-d", str(into),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        raise NngptError(f"pip download of {PACKAGE}=={version} failed: {lines[-1] if lines else 'exit ' + str(done.returncode)}")
    found = sorted(into.glob("*.tar.gz"))
    if not found:
        raise NngptError(f"pip download of {PACKAGE}=={version} produced no source archive")
    return found[0]


def fetch_archive(
    cache_dir: Path, version: str = DEFAULT_VERSION, source: Path | None = None,
    pinned: Mapping[str, str] = PINNED_SHA256, on_status: Callable[[str], None] = lambda _message: None,
) -> Path:
    """The verified archive of `version` in `cache_dir`: copied from `source`, or downloaded when not cached yet."""
    pinned_sha256(version, pinned)  # an unknown version fails before any download
    cache_dir = Path(cache_dir)
    target = cache_dir / archive_name(version)
    if source is None and target.is_file():
        verify_archive(target, version, pinned)
        on_status(f"{target} is cached and verified")
        return target
    if source is not None:
        verify_archive(Path(source), version, pinned)  # a wrong file leaves the cache untouched
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as work:
        if source is None:
            on_status(f"downloading {PACKAGE}=={version} (source archive, no dependencies)")
            try:
                candidate = _pip_download(version, Path(work))
            except OSError as exc:
                raise NngptError(f"pip download of {PACKAGE}=={version} failed: {first_line(exc)}") from None
            verify_archive(candidate, version, pinned)
        else:
            candidate = Path(source)
        staged = Path(work) / archive_name(version)
        if candidate != staged:
            shutil.copyfile(candidate, staged)
        staged.replace(target)
    on_status(f"{target}: sha256 verified")
    return target
