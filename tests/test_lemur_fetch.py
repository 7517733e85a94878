"""`nngpt lemur fetch`: a local archive is verified against the sha256 pinned in code; a wrong one is refused.

No network here: the download path (pip download) is not exercised; --from serves offline machines.
"""

from __future__ import annotations

import hashlib

import pytest

from nngpt_core.errors import NngptError
from nngpt_core.lemur.fetch import PINNED_SHA256, archive_name, cached_archive, fetch_archive
from tests.cli_helpers import run_nngpt
from tests.lemur_helpers import make_archive


def test_a_wrong_checksum_is_refused_in_one_line_and_nothing_is_cached(tmp_path):
    fake = make_archive(tmp_path)  # a well-formed archive, but not the published one
    cache = tmp_path / "cache"
    done = run_nngpt("lemur", "fetch", "--from", str(fake), "--cache-dir", str(cache))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "sha256" in lines[0] and "refused" in lines[0]
    assert PINNED_SHA256["2.1.2"][:16] in lines[0]
    assert not cache.exists()


def test_a_pinned_archive_is_cached_and_verified_again_before_use(tmp_path):
    (tmp_path / "src").mkdir()
    source = make_archive(tmp_path / "src", version="9.9.9")
    pinned = {"9.9.9": hashlib.sha256(source.read_bytes()).hexdigest()}
    cache = tmp_path / "cache"
    path = fetch_archive(cache, "9.9.9", source, pinned=pinned)
    assert path == cache / archive_name("9.9.9") and path.read_bytes() == source.read_bytes()
    assert fetch_archive(cache, "9.9.9", pinned=pinned) == path  # cached: no download
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(NngptError, match="sha256 .* is not the pinned"):
        fetch_archive(cache, "9.9.9", pinned=pinned)
    assert list(cache.iterdir()) == [path]  # no temporary folder left behind


def test_an_unpinned_version_is_refused_before_any_download(tmp_path):
    done = run_nngpt("lemur", "fetch", "--version", "0.0.1", "--cache-dir", str(tmp_path))
    assert done.returncode == 1 and done.stderr.strip() == "error: no pinned sha256 for nn-dataset 0.0.1 (pinned: 2.1.2)"


def test_import_without_a_fetched_archive_says_what_to_run(tmp_path, sqlite_url):
    done = run_nngpt("lemur", "import", "--cache-dir", str(tmp_path), "--db", sqlite_url)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: nn-dataset 2.1.2 is not cached in {tmp_path}: run `nngpt lemur fetch --version 2.1.2` first"]
    with pytest.raises(NngptError, match="not cached"):
        cached_archive(tmp_path)
