"""`nngpt lemur report` and the families it counts: greedy admission order, exact decisions, both criteria."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from typer.testing import CliRunner

from nngpt_cli.main import app
from nngpt_core.config import NoveltyConfig
from nngpt_core.lemur import fetch
from nngpt_core.lemur.families import lexical_families, paper_families, shingle_hashes
from nngpt_core.lemur.importer import import_lemur
from nngpt_core.lemur.report import dedup_report, family_label
from nngpt_core.novelty.paper import paper_shingles
from tests.lemur_helpers import MLP, TASK, VERSION, make_archive


def _greedy_by_brute_force(sets, tau):
    """The reference: each set joins the most similar earlier leader at or above tau (first on ties)."""
    leaders, owner = [], {}
    for index, values in enumerate(sets):
        best, best_similarity = None, -1.0
        for leader in leaders:
            similarity = len(values & sets[leader]) / len(values | sets[leader])
            if similarity >= tau and similarity > best_similarity:
                best, best_similarity = leader, similarity
        if best is None:
            leaders.append(index)
        owner[index] = index if best is None else best
    return leaders, owner


def test_paper_families_match_a_brute_force_greedy():
    rng = np.random.default_rng(3)
    base = [set(rng.integers(0, 10**12, size=int(rng.integers(40, 400))).tolist()) for _ in range(12)]
    sets = []
    for values in base:  # each base set, and variants that keep 80..100% of it
        sets.append(values)
        for keep in (1.0, 0.97, 0.93, 0.85):
            kept = set(itertools.islice(values, int(len(values) * keep)))
            sets.append(kept | {int(x) for x in rng.integers(10**12, 2 * 10**12, size=2)})
    order = rng.permutation(len(sets))
    sets = [sets[i] for i in order]
    arrays = [np.unique(np.fromiter(values, dtype=np.uint64)) for values in sets]
    families = paper_families(list(range(len(sets))), arrays, tau=0.9)
    leaders, owner = _greedy_by_brute_force(sets, 0.9)
    assert families.leaders == leaders
    assert {member: leader for leader, members in families.members.items() for member in members} == owner
    assert 12 <= families.distinct < len(sets)


def test_lexical_families_follow_the_estimated_jaccard():
    hashvalues = np.array([
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        [1, 2, 3, 4, 5, 6, 7, 0, 0, 0],   # 0.7 to the first: a near-duplicate at threshold 0.7
        [0, 0, 0, 0, 0, 0, 7, 8, 9, 10],  # 0.4: a new family
        [0, 0, 0, 0, 0, 0, 7, 8, 9, 11],  # 0.9 to the third
    ], dtype=np.uint32)
    families = lexical_families([10, 11, 12, 13], hashvalues, threshold=0.7)
    assert families.leaders == [10, 12] and families.members == {10: [10, 11], 12: [12, 13]}
    assert families.sizes() == [2, 2]


def test_shingle_hashes_are_the_paper_shingles():
    values = shingle_hashes("m", MLP)
    assert len(values) == len(paper_shingles(MLP)) and np.all(np.diff(values.astype(np.float64)) > 0)
    assert shingle_hashes("broken", "def f(:") is None


def test_family_labels_group_generated_names():
    names = ["ga-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", "ga-0a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
             "AlexNet-355f849c-18de-4d93-b571-b7dd5db94569", "AlexNet", "BayesianNet-2"]
    assert family_label(names) == "ga (2), AlexNet (2), BayesianNet (1)"


@pytest.fixture
def imported(store, tmp_path):
    import_lemur(store, make_archive(tmp_path), version=VERSION, task=TASK, novelty=NoveltyConfig())
    return store


def test_report_counts_copies_and_families(imported):
    report = dedup_report(imported, VERSION, NoveltyConfig())
    assert (report.files, report.distinct_code, report.exact_copies) == (6, 5, 1)
    by_name = {names[0]: architecture for architecture, names in report.names.items()}
    assert report.copies == [(by_name["SmallCNN"], 2)]
    # TinyMLPWide differs from TinyMLP only in numbers: the paper's abstracted tokens cannot tell them apart
    family_of = {member: leader for leader, members in report.paper.members.items() for member in members}
    assert family_of[by_name["TinyMLPWide"]] == family_of[by_name["TinyMLP"]]
    assert report.paper.distinct <= report.distinct_code and report.project.distinct <= report.distinct_code
    assert sum(len(members) for members in report.paper.members.values()) == report.distinct_code


def test_report_command_prints_tables_and_writes_a_plot(imported, tmp_path):
    plot = tmp_path / "dedup.png"
    result = CliRunner().invoke(app, ["lemur", "report", "--db", imported.url, "--out", str(plot), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "6 imported files" in result.output and "exact copies" in result.output and "largest families" in result.output
    assert plot.stat().st_size > 10_000


def test_import_command_prints_its_summary(store, tmp_path, monkeypatch):
    archive = make_archive(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    archive.rename(cache / archive.name)
    monkeypatch.setitem(fetch.PINNED_SHA256, VERSION, fetch.sha256_of(cache / archive.name))  # the test archive stands in
    result = CliRunner().invoke(app, ["lemur", "import", "--cache-dir", str(cache), "--db", store.url, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "new architectures" in result.output and "skipped: task img-segmentation" in result.output
    assert "files/s" in result.output and "records/s" in result.output
