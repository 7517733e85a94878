"""`nngpt lemur import` on a small nn-dataset archive made here: models of several tasks, records, broken files.

Every store test runs on SQLite and PostgreSQL (the `store` fixture).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from nngpt_core.config import NoveltyConfig
from nngpt_core.lemur import importer
from nngpt_core.lemur.analysis import analyse_all
from nngpt_core.lemur.archive import read_archive
from nngpt_core.lemur.importer import import_lemur
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.novelty.signature import lexical_signature
from nngpt_core.store.models import Architecture, Evaluation, LemurModel, LshBand, Signature
from nngpt_core.store.repo import table_counts
from tests.lemur_helpers import CNN, EXPECTED_RECORDS, EXPECTED_SKIPS, IMPORTED, MLP, TASK, VERSION, make_archive

NOVELTY = NoveltyConfig()


@pytest.fixture
def archive(tmp_path):
    return make_archive(tmp_path)


def _import(store, archive, **options):
    return import_lemur(store, archive, version=VERSION, task=TASK, novelty=NOVELTY, **options)


def test_reading_the_archive(archive):
    read = read_archive(archive, VERSION, TASK)
    assert sorted(read.models) == sorted([*IMPORTED, "Broken", "NoNet", "Segmenter", "Orphan"])
    assert read.tasks["Segmenter"] == {"img-segmentation"} and "Orphan" not in read.tasks
    assert read.datasets["SmallCNN"] == {"cifar-10", "mnist"} and read.datasets["NoTrials"] == {"cifar-10"}
    assert "NoTrials" not in read.records
    assert "Segmenter" not in read.records  # records of other tasks are not kept
    cifar = sorted((r.epoch, r.accuracy) for r in read.records["SmallCNN"] if r.dataset == "cifar-10")
    assert cifar == [(1, 0.41), (1, 0.41), (1, 0.45), (2, 0.52)]
    assert read.malformed == 1 and [reason for _, reason in read.unreadable] == ["not an epoch file: JSONDecodeError"]
    record = next(r for r in read.records["SmallResNet"])  # a dict instead of a list of trials
    assert (record.dataset, record.accuracy, record.duration_s, record.hyperparameters) == ("svhn", 0.6, None, {"lr": 0.01, "batch": 32})


def test_import_counts_every_file_and_record(store, archive):
    summary = _import(store, archive)
    assert summary.files == 10 and summary.epoch_files == 11
    assert (summary.new, summary.exact_copies, summary.already_stored, summary.already_imported) == (5, 1, 0, 0)
    assert dict(summary.skipped) == EXPECTED_SKIPS
    assert (summary.records_new, summary.records_duplicate, summary.malformed, len(summary.unreadable)) == (EXPECTED_RECORDS, 1, 1, 1)
    assert summary.signatures == 5
    with store.session() as session:
        names = dict(session.execute(select(LemurModel.name, LemurModel.architecture_id)).all())
        assert sorted(names) == sorted(IMPORTED)
        assert names["SmallCNN"] == names["SmallCNN-copy"]
        cnn = session.get(Architecture, names["SmallCNN"])
        assert (cnn.origin, cnn.name, cnn.code_hash, cnn.in_corpus) == ("lemur", "SmallCNN", code_hash(CNN), True)
        assert cnn.source == f"nn-dataset=={VERSION}:ab/nn/nn/SmallCNN.py"
        signature = session.scalar(select(Signature).where(Signature.architecture_id == cnn.id))
        assert bytes(signature.hashvalues) == lexical_signature(CNN, NOVELTY).to_bytes()  # the same as admission's
        assert session.scalar(select(func.count()).select_from(LshBand).where(LshBand.architecture_id == cnn.id)) > 0
        assert session.scalar(select(func.count()).select_from(Evaluation).where(Evaluation.source == "lemur")) == EXPECTED_RECORDS
        second_epoch = session.scalar(select(Evaluation).where(Evaluation.architecture_id == cnn.id, Evaluation.epoch == 2))
        assert (second_epoch.dataset, second_epoch.accuracy, second_epoch.status, second_epoch.source) == ("cifar-10", 0.52, "ok", "lemur")
        assert second_epoch.hyperparameters == {"batch": 64, "lr": 0.01, "momentum": 0.9}
        assert (second_epoch.transform, second_epoch.duration_s) == ("norm_64_flip", 12.5)
        assert second_epoch.recipe.startswith("lemur-") and second_epoch.recipe_config["model"] == "SmallCNN"
        assert second_epoch.created_at is not None
        copies = session.scalars(select(Evaluation).where(Evaluation.architecture_id == cnn.id)).all()
        assert sorted(e.recipe_config["model"] for e in copies).count("SmallCNN-copy") == 1
        assert session.scalar(select(func.count()).select_from(Evaluation).where(Evaluation.source == "nngpt")) == 0


def test_a_second_import_changes_nothing(store, archive):
    _import(store, archive)
    with store.session() as session:
        before = table_counts(session)
    again = _import(store, archive)
    assert (again.new, again.records_new, again.signatures, again.already_imported) == (0, 0, 0, len(IMPORTED))
    assert again.records_stored == EXPECTED_RECORDS + 1  # the trial listed twice counts as stored too
    with store.session() as session:
        assert table_counts(session) == before


def test_chosen_datasets_first_then_the_rest(store, archive):
    first = _import(store, archive, datasets=["cifar-10"])
    assert first.skipped["no record folder on the chosen datasets"] == 1  # SmallResNet has svhn records only
    with store.session() as session:
        datasets = session.scalars(select(Evaluation.dataset).where(Evaluation.source == "lemur")).all()
    assert set(datasets) == {"cifar-10"} and len(datasets) == EXPECTED_RECORDS - 2
    rest = _import(store, archive)
    assert (rest.new, rest.records_new, rest.already_imported) == (1, 2, len(IMPORTED) - 1)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Evaluation)) == EXPECTED_RECORDS


def test_an_interrupted_import_leaves_whole_files_only(store, archive, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_FILES", 2)
    real_insert = importer._Writer._insert_records
    calls = []

    def failing_second_batch(self, conn, files):
        calls.append(files)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        real_insert(self, conn, files)

    monkeypatch.setattr(importer._Writer, "_insert_records", failing_second_batch)
    with pytest.raises(RuntimeError):
        _import(store, archive)
    with store.session() as session:
        kept = dict(session.execute(select(LemurModel.name, LemurModel.architecture_id)).all())
        assert sorted(kept) == [name for name, _ in calls[0]]  # the first batch, whole: architectures, map and records
        architectures = set(session.scalars(select(Architecture.id)).all())
        evaluations = set(session.scalars(select(Evaluation.architecture_id)).all())
        assert architectures == set(kept.values()) and evaluations and evaluations <= architectures
    monkeypatch.setattr(importer._Writer, "_insert_records", real_insert)
    _import(store, archive)
    with store.session() as session:
        assert sorted(session.scalars(select(LemurModel.name)).all()) == sorted(IMPORTED)
        assert session.scalar(select(func.count()).select_from(Evaluation)) == EXPECTED_RECORDS


def test_parallel_analysis_equals_the_library_functions():
    files = [(f"m{i}", CNN if i % 2 else MLP.replace("128", str(100 + i))) for i in range(150)]
    analyses = list(analyse_all(files, NOVELTY, workers=2))
    assert [a.name for a in analyses] == [name for name, _ in files]
    for (_, code), analysis in zip(files, analyses):
        assert analysis.problem is None and analysis.digest == code_hash(code)
        assert np.array_equal(analysis.hashvalues, lexical_signature(code, NOVELTY).hashvalues)


def test_records_keep_lemur_hyperparameters_as_json(store, archive):
    _import(store, archive)
    with store.engine.connect() as conn:
        rows = conn.execute(select(Evaluation.hyperparameters, Evaluation.recipe_config).where(Evaluation.source == "lemur")).all()
    for hyperparameters, config in rows:
        assert isinstance(hyperparameters, dict) and "lr" in hyperparameters
        assert config["source"] == "lemur" and config["nn_dataset"] == VERSION and json.dumps(config)
