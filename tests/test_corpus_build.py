"""`nngpt corpus build`: a model's training corpus on disk (files, manifest, rebuilds), verified against the
model's manifest, and imported into the store with its origins, on SQLite and PostgreSQL.

    .venv/bin/pytest tests/test_corpus_build.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli_helpers import run_nngpt
from nngpt_core.corpus.builder import CorpusFile, import_corpus, write_corpus
from nngpt_core.corpus.training import ARCHIVE, TrainingCorpus
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture, Signature
from tests.llm_helpers import corpus_slice, tiny_training_corpus  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, corpus_slice) -> Path:
    """A model directory holding a small training corpus, as `nngpt bootstrap` saves it."""
    directory = tmp_path_factory.mktemp("model")
    tiny_training_corpus(corpus_slice).save(directory)
    return directory


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir) -> tuple[Path, TrainingCorpus, list[CorpusFile]]:
    out = tmp_path_factory.mktemp("corpus")
    corpus = TrainingCorpus.load(model_dir)
    return out, corpus, write_corpus(out, corpus)


def test_write_corpus_lays_out_every_training_file_by_origin_with_a_manifest(built):
    out, corpus, files = built
    counts = corpus.manifest()["counts"]
    for origin, count in counts.items():
        assert len(list((out / origin).glob("*.py"))) == count
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sha256"] == corpus.sha256 and len(manifest["files"]) == len(corpus.files) == len(files)
    for entry in manifest["files"]:
        assert code_hash((out / entry["path"]).read_text()) == entry["code_hash"]
    assert {entry["origin"] for entry in manifest["files"]} == {"seed", "expanded", "synthetic"}


def test_rebuild_removes_the_previous_build_files(tmp_path, model_dir):
    corpus = TrainingCorpus.load(model_dir)
    write_corpus(tmp_path, corpus)
    (tmp_path / "notes.txt").write_text("mine")
    write_corpus(tmp_path, TrainingCorpus(corpus.files[:1]))
    assert sum(1 for _ in tmp_path.rglob("*.py")) == 1
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_foreign_manifest_is_not_trusted(tmp_path, model_dir):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(NngptError, match="not a corpus manifest"):
        write_corpus(tmp_path, TrainingCorpus.load(model_dir))
    assert not (tmp_path / "seed").exists()


def test_an_altered_training_corpus_is_refused(tmp_path, model_dir):
    altered = tmp_path / "model"
    altered.mkdir()
    (altered / "training_corpus.json").write_text((model_dir / "training_corpus.json").read_text())
    with gzip.open(model_dir / ARCHIVE, "rt") as handle:
        lines = handle.read().splitlines()
    record = json.loads(lines[0])
    record["code"] += "\nEXTRA = 1\n"
    with gzip.open(altered / ARCHIVE, "wt") as handle:
        handle.write("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    with pytest.raises(NngptError, match="does not match the sha256"):
        TrainingCorpus.load(altered)
    with pytest.raises(NngptError, match="no training corpus"):
        TrainingCorpus.load(tmp_path)


def test_import_stores_each_file_once_with_its_origin(store, built):
    _, corpus, files = built
    first = import_corpus(store, files)
    assert (len(first.added), len(first.skipped)) == (len(files), 0)
    again = import_corpus(store, files)
    assert (len(again.added), len(again.already_stored)) == (0, len(files))
    with store.session() as session:
        origins = dict(session.execute(select(Architecture.origin, func.count()).group_by(Architecture.origin)).all())
        stored = session.scalar(select(Architecture).where(Architecture.name == files[-1].name))
    assert origins == corpus.manifest()["counts"]
    assert stored.code == files[-1].code and stored.source == str(files[-1].path)


def test_cli_writes_the_models_corpus_and_imports_it(tmp_path, model_dir):
    url = f"sqlite:///{tmp_path / 'nngpt.db'}"
    corpus = TrainingCorpus.load(model_dir)
    result = run_nngpt("corpus", "build", "--model", str(model_dir), "--out", str(tmp_path / "corpus"), "--db", url)
    assert result.returncode == 0, result.stderr
    assert f"wrote {len(corpus.files)} files" in result.stderr and corpus.sha256[:16] in result.stderr
    assert f"imported {len(corpus.files)} new" in result.stderr
    store = open_store(url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Architecture)) == len(corpus.files)
        assert session.scalar(select(func.count()).select_from(Signature).where(Signature.kind == "lexical")) == len(corpus.files)
    store.dispose()


def test_cli_no_import_leaves_the_store_alone_and_a_missing_corpus_is_one_line(tmp_path, model_dir, monkeypatch):
    result = run_nngpt("corpus", "build", "--model", str(model_dir), "--no-import", env={"NNGPT_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["corpus"]
    result = run_nngpt("corpus", "build", "--model", str(tmp_path), "--out", str(tmp_path / "x"), "--no-import")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0 and "no training corpus" in result.stderr


@pytest.mark.slow
def test_cli_rebuilds_a_corpus_from_its_recipe_identically(tmp_path):
    """A small recipe (a few variants and hybrids, each probed): the rebuild must match byte for byte."""
    corpus = TrainingCorpus.build(expanded=2, hybrids_per_pair=1, trained_share=0.004, seed=3)
    assert corpus.manifest()["counts"]["synthetic"] >= 1
    corpus.save(tmp_path / "model")
    result = run_nngpt("corpus", "build", "--model", str(tmp_path / "model"), "--rebuild", "--no-import",
                       "--out", str(tmp_path / "out"), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "identical to the model's training corpus" in result.stderr
    manifest = json.loads((tmp_path / "model" / "training_corpus.json").read_text())
    manifest["recipe"]["seed"] = 4  # a recipe that makes other files
    (tmp_path / "model" / "training_corpus.json").write_text(json.dumps(manifest))
    result = run_nngpt("corpus", "build", "--model", str(tmp_path / "model"), "--rebuild", "--no-import",
                       "--out", str(tmp_path / "out"), timeout=900)
    assert result.returncode != 0 and "does not reproduce its training data" in result.stderr
