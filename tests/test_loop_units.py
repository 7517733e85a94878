"""Pieces of the loop that need no model: the SFT selection rule, reports and plots (faults: tests/test_faults.py)."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from nngpt_core.config import load_config
from nngpt_core.loop.report import build_report
from nngpt_core.loop.selection import choose
from nngpt_core.loop.stats import median, wilson_interval
from nngpt_core.store.models import Architecture, Candidate, Cycle, Run


def _admitted(*accuracies):
    return [SimpleNamespace(accuracy=a, id=i) for i, a in enumerate(sorted(accuracies, reverse=True))]


def test_selection_takes_qualified_then_tops_up_best_first():
    cfg = load_config(None, {"selection.min_examples": 3, "selection.min_accuracy": 0.4})
    chosen = choose(_admitted(0.9, 0.5, 0.3, 0.2, 0.1), cfg)
    assert [(c.accuracy, why) for c, why in chosen] == [(0.9, "qualified"), (0.5, "qualified"), (0.3, "top_up")]


def test_selection_caps_at_max_examples_and_needs_no_top_up_when_enough_qualify():
    cfg = load_config(None, {"selection.min_examples": 1, "selection.max_examples": 2})
    chosen = choose(_admitted(0.9, 0.8, 0.7, 0.1), cfg)
    assert [why for _, why in chosen] == ["qualified", "qualified"]


def test_selection_of_nothing_is_nothing():
    assert choose([], load_config(None)) == []


def test_wilson_interval_and_median():
    low, high = wilson_interval(8, 10)
    assert 0.45 < low < 0.8 < high < 0.97
    assert wilson_interval(0, 0) is None and wilson_interval(0, 5)[0] == 0.0
    assert median([3, 1, 2]) == 2 and median([4, 1, 2, 3]) == 2.5 and median([]) is None


def test_report_writes_plots_summary_and_best_code(store, tmp_path):
    with store.session() as session:
        run = Run(name="unit", base_model="m", dataset="digits", share_threshold=0.4)
        session.add(run)
        session.flush()
        for index, accuracies in enumerate([(0.2, 0.6), (0.7, None)]):
            cycle = Cycle(run_id=run.id, index=index)
            session.add(cycle)
            session.flush()
            for n, accuracy in enumerate(accuracies):
                arch = Architecture(code_hash=f"{index}-{n}", code=f"class Net:  # {index}-{n}\n    pass\n",
                                    name=f"a{index}{n}", origin="generated", in_corpus=accuracy is not None,
                                    run_id=run.id, cycle_id=cycle.id)
                session.add(arch)
                session.flush()
                session.add(Candidate(run_id=run.id, cycle_id=cycle.id, index=n, prompt="p", completion="c",
                                      status="ok" if accuracy else "timeout", accuracy=accuracy,
                                      admitted=accuracy is not None, architecture_id=arch.id))
        run_id = run.id
    report = build_report(store, run_id, tmp_path)
    assert [m.generated for m in report.metrics] == [2, 2]
    assert report.metrics[1].valid_rate == 0.5 and report.metrics[1].cumulative_novel == 3
    assert [b["accuracy"] for b in report.best] == [0.7, 0.6, 0.2]
    for plot in report.plot_paths:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000
    summary = (tmp_path / "summary.md").read_text()
    best_file = f"code/arch_{report.best[0]['architecture_id']}.py"
    assert best_file in summary and (tmp_path / best_file).read_text().startswith("class Net")


def test_a_run_imports_the_models_training_corpus_once_with_origins(store, tmp_path):
    from nngpt_core.corpus import seed_sources
    from nngpt_core.corpus.training import TrainingCorpus, TrainingFile
    from nngpt_core.llm.references import stored_references
    from nngpt_core.loop.runs import import_training_corpus
    from nngpt_core.novelty.admission import find_exact_duplicate
    from nngpt_core.store.models import Architecture

    seeds = seed_sources()[:4]
    variant = seeds[0][1] + "\n\nVARIANT_MARK = 2\n"
    hybrid = seeds[1][1] + "\n\nHYBRID_MARK = 1\n"
    corpus = TrainingCorpus([*(TrainingFile(n, "seed", c) for n, c in seeds),
                             TrainingFile(seeds[0][0] + "__width24", "expanded", variant, (seeds[0][0],), (("WIDTH", "24"),)),
                             TrainingFile("a__x__b", "synthetic", hybrid, (seeds[1][0], seeds[2][0]))], {"test": True})
    corpus.save(tmp_path / "model")
    cfg = load_config(None, {"model.name_or_path": str(tmp_path / "model")})
    added, summary = import_training_corpus(store, cfg)
    assert added == 6 and summary["counts"] == {"seed": 4, "expanded": 1, "synthetic": 1}
    assert summary["sha256"] == corpus.sha256
    assert import_training_corpus(store, cfg)[0] == 0  # a second run adds nothing
    with store.session() as session:
        origins = dict(session.execute(select(Architecture.name, Architecture.origin)).all())
        assert find_exact_duplicate(session, corpus.files[4].code_hash) is not None  # copies of it are memorized
    assert origins["a__x__b"] == "synthetic" and origins[seeds[0][0] + "__width24"] == "expanded"
    # prompts draw parents from the seeds only: variants and hybrids are training data, not parents
    assert {ref.name for ref in stored_references(store)} == {n for n, _ in seeds}
    # a model that records no training corpus (a hub id): the hand-written seeds
    added, summary = import_training_corpus(store, load_config(None, {"model.name_or_path": "org/some-model"}))
    assert summary["counts"] == {"seed": len(seed_sources())} and added == len(seed_sources()) - 4


def test_sft_pairs_restate_the_budget_from_the_candidates_real_size(store):
    """The paper's rule (selection.budget_in_pairs: 1.5): the stored pair states 1.5x the real parameter count."""
    from nngpt_core.llm.prompts import PromptTemplate, TaskSpec
    from nngpt_core.loop.selection import select_sft_examples
    from nngpt_core.store.models import Evaluation, SftExample

    prompt = PromptTemplate.load("default").prompt(TaskSpec.for_dataset("digits", 2_000_000))
    with store.session() as session:
        run = Run(name="budget", base_model="m", dataset="digits", share_threshold=0.4)
        session.add(run)
        session.flush()
        cycles = [Cycle(run_id=run.id, index=i) for i in range(2)]
        session.add_all(cycles)
        session.flush()
        for cycle in cycles:
            arch = Architecture(code_hash=f"h{cycle.index}", code="class Net: pass\n", name=f"n{cycle.index}",
                                origin="generated", run_id=run.id, cycle_id=cycle.id)
            session.add(arch)
            session.flush()
            evaluation = Evaluation(architecture_id=arch.id, dataset="digits", recipe="r", status="ok",
                                    accuracy=0.9, params=10_001)
            session.add(evaluation)
            session.flush()
            session.add(Candidate(run_id=run.id, cycle_id=cycle.id, index=0, prompt=prompt, completion="c",
                                  code="class Net: pass\n", status="ok", accuracy=0.9, admitted=True,
                                  architecture_id=arch.id, evaluation_id=evaluation.id))
        cycle_ids = [c.id for c in cycles]
    paper = load_config(None, {"selection.budget_in_pairs": 1.5})
    assert select_sft_examples(store, paper, cycle_ids[0]) == 1
    assert select_sft_examples(store, load_config(None), cycle_ids[1]) == 1
    with store.session() as session:
        stored = dict(session.execute(select(SftExample.cycle_id, SftExample.prompt)).all())
    assert "at most 15,002 parameters" in stored[cycle_ids[0]]  # round(1.5 x 10,001)
    assert stored[cycle_ids[1]] == prompt  # the default keeps the prompt as generated
