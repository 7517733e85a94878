"""`nngpt corpus build`: files, manifest and rebuilds on disk; the import into the store on SQLite and PostgreSQL.

    .venv/bin/pytest tests/test_corpus_build.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from typer.testing import CliRunner

from cli_helpers import run_nngpt
from nngpt_core.cli.corpus import corpus_app
from nngpt_core.corpus import seed_sources
from nngpt_core.corpus.builder import CorpusFile, import_corpus, write_corpus
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture, Signature

SEED_COUNT = len(seed_sources())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[CorpusFile]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, write_corpus(out, n=4, seed=2)


def test_write_corpus_lays_out_seeds_variants_and_manifest(built):
    out, files = built
    assert len(list((out / "seeds").glob("*.py"))) == SEED_COUNT
    assert len(list((out / "expanded").glob("*.py"))) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["expanded"], len(manifest["files"])) == (2, 4, SEED_COUNT + 4)
    for entry in manifest["files"]:
        assert code_hash((out / entry["path"]).read_text()) == entry["code_hash"]
    assert len({entry["code_hash"] for entry in manifest["files"]}) == SEED_COUNT + 4


def test_rebuild_removes_the_previous_build_files(tmp_path):
    write_corpus(tmp_path, n=3, seed=0)
    (tmp_path / "notes.txt").write_text("mine")
    write_corpus(tmp_path, n=1, seed=1)
    assert len(list((tmp_path / "expanded").glob("*.py"))) == 1
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_foreign_manifest_is_not_trusted(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(NngptError, match="not a corpus manifest"):
        write_corpus(tmp_path, n=0, seed=0)
    assert not (tmp_path / "seeds").exists()


def test_import_stores_each_file_once_with_origin_seed(store, built):
    _, files = built
    first = import_corpus(store, files)
    assert (len(first.added), len(first.skipped)) == (SEED_COUNT + 4, 0)
    again = import_corpus(store, files)
    assert (len(again.added), len(again.already_stored)) == (0, SEED_COUNT + 4)
    with store.session() as session:
        origins = session.execute(select(Architecture.origin, func.count()).group_by(Architecture.origin)).all()
        stored = session.scalar(select(Architecture).where(Architecture.name == files[-1].name))
    assert origins == [("seed", SEED_COUNT + 4)]
    assert stored.code == files[-1].code and stored.source == str(files[-1].path)


def test_cli_builds_and_imports(tmp_path):
    url = f"sqlite:///{tmp_path / 'nngpt.db'}"
    result = run_nngpt("corpus", "build", "--out", str(tmp_path / "corpus"), "--n", "2", "--seed", "5", "--db", url)
    assert result.returncode == 0, result.stderr
    assert f"wrote {SEED_COUNT} seeds and 2 expanded variants" in result.stderr
    assert f"imported {SEED_COUNT + 2} new" in result.stderr
    store = open_store(url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Architecture).where(Architecture.origin == "seed")) == SEED_COUNT + 2
        assert session.scalar(select(func.count()).select_from(Signature).where(Signature.kind == "lexical")) == SEED_COUNT + 2
    store.dispose()


def test_cli_no_import_leaves_the_store_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("NNGPT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(corpus_app, ["build", "--n", "0", "--no-import"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "data" / "corpus" / "seeds").glob("*.py"))) == SEED_COUNT
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data" / "corpus"]


def test_cli_refuses_a_negative_count(tmp_path):
    result = CliRunner().invoke(corpus_app, ["build", "--out", str(tmp_path), "--n", "-3", "--no-import"])
    assert result.exit_code == 2
    assert not any(tmp_path.iterdir())
