"""Runs and cycles in the store: create, resume, record stage timings, say where a run stands.

    run_id = start_run(store, cfg)                 # stores the config, seed, model and package versions
    cycle_id = ensure_cycle(store, run_id, 0)      # idempotent: returns the stored cycle when it exists
    latest_run_id(store), next_cycle_index(store, run_id)   # what a cycle started from the UI continues
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from nngpt_core.config import RunConfig, config_from_dict
from nngpt_core.errors import NngptError
from nngpt_core.loop.metrics import cycle_metrics
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate, Cycle, Run, SftExample
from nngpt_core.versions import environment_versions


def import_training_corpus(store: Store, cfg: RunConfig) -> tuple[int, dict[str, Any]]:
    """Import every architecture the model in use was trained on, with its origin (seed / expanded /
    synthetic) and indexed for novelty, unless already stored; the hand-written seeds for a model that
    records no training corpus. Returns (architectures added, the corpus summary a run records).

    With the training corpus in the store, a candidate that copies a training example is a near or
    exact duplicate of it: "memorized", never admitted as novel."""
    from nngpt_core.corpus.training import TrainingCorpus
    from nngpt_core.novelty.admission import index_architecture
    from nngpt_core.store.repo import import_sources

    corpus = TrainingCorpus.of_model(cfg.model.name_or_path)
    with store.session() as session:
        stored = set(session.scalars(select(Architecture.code_hash)).all())
        missing = [f for f in corpus.files if f.code_hash not in stored]
        added = 0
        for origin in dict.fromkeys(f.origin for f in missing):
            report = import_sources(session, ((f.name, f.code, None) for f in missing if f.origin == origin),
                                    origin=origin, on_added=lambda s, arch: index_architecture(s, arch, cfg.novelty))
            added += len(report.added)
    manifest = corpus.manifest()
    summary = {"sha256": manifest["sha256"], "counts": manifest["counts"], "recipe": manifest["recipe"],
               "trained_pairs": len(corpus.trained_pairs), "held_out_pairs": len(corpus.held_out_pairs)}
    return added, summary


def start_run(store: Store, cfg: RunConfig, training_corpus: dict[str, Any] | None = None) -> int:
    with store.session() as session:
        run = Run(
            training_corpus=training_corpus or {},
            name=cfg.name,
            seed=cfg.seed,
            base_model=cfg.model.name_or_path,
            dataset=cfg.evaluation.dataset,
            share_threshold=cfg.selection.share_threshold,
            config=cfg.model_dump(mode="json"),
            versions=environment_versions(),
        )
        session.add(run)
        session.flush()
        return run.id


def stored_config(store: Store, run_id: int) -> RunConfig:
    """The config a run was started with (a resumed run keeps it, so its cycles stay comparable)."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NngptError(f"run {run_id} not found")
        return config_from_dict(run.config, origin=f"run {run_id} config")


def run_created_at(store: Store, run_id: int) -> datetime:
    """When the run was started (with its id, it names the run's Prefect runs across stores)."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NngptError(f"run {run_id} not found")
        return run.created_at


# A run is running (a flow works on it), done (every planned cycle is done), stopped (a cycle run on
# its own finished with cycles left: continue it with the cycle deployment or nngpt run --resume)
# or failed (a flow working on it raised; resume it the same way).
RUN_STATUSES = ("running", "done", "stopped", "failed")


def set_run_status(store: Store, run_id: int, status: str, cycles: int | None = None) -> None:
    with store.session() as session:
        run = session.get(Run, run_id)
        run.status = status
        if cycles is not None:  # `--cycles` on resume extends the run; keep the stored config truthful
            run.config = {**run.config, "cycles": cycles}


def latest_run_id(store: Store) -> int:
    """The newest run in the store (what the `cycle` deployment continues when given no run id)."""
    with store.session() as session:
        found = session.scalar(select(func.max(Run.id)))
    if found is None:
        raise NngptError(f"the store at {store.masked_url} holds no run yet: start one with the evolve deployment or nngpt run")
    return found


def next_cycle_index(store: Store, run_id: int) -> int:
    """The run's first cycle that is not done, else the index after its last cycle."""
    with store.session() as session:
        if session.get(Run, run_id) is None:
            raise NngptError(f"run {run_id} not found in the store at {store.masked_url} (nngpt db stats lists the runs)")
        cycles = session.execute(select(Cycle.index, Cycle.status).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
    unfinished = [index for index, status in cycles if status != "done"]
    return unfinished[0] if unfinished else len(cycles)


def planned_cycles(store: Store, run_id: int) -> int:
    with store.session() as session:
        return int(session.get(Run, run_id).config.get("cycles") or 0)


def run_progress(store: Store, run_id: int) -> str:
    """One line for the UI: '2 of 3 cycles done, status running'."""
    with store.session() as session:
        run = session.get(Run, run_id)
        done = session.scalar(select(func.count()).select_from(Cycle).where(Cycle.run_id == run_id, Cycle.status == "done"))
        return f"{done} of {run.config.get('cycles')} cycles done, status {run.status}"


@contextlib.contextmanager
def failed_on_error(store: Store, run_id: int) -> Iterator[None]:
    """Mark the run failed when the block raises, so that its status never says running after a crash it saw."""
    try:
        yield
    except Exception:
        set_run_status(store, run_id, "failed")
        raise


def settle_run_status(store: Store, run_id: int) -> str:
    """After a cycle run on its own: done when every planned cycle is done, else stopped (cycles are left)."""
    with store.session() as session:
        run = session.get(Run, run_id)
        done = session.scalar(select(func.count()).select_from(Cycle).where(Cycle.run_id == run_id, Cycle.status == "done"))
        run.status = "done" if done >= int(run.config.get("cycles") or 0) else "stopped"
        return run.status


def ensure_cycle(store: Store, run_id: int, index: int) -> int:
    """The id of cycle `index` of the run, creating it with the adapter the previous cycle produced."""
    with store.session() as session:
        cycle = session.scalar(select(Cycle).where(Cycle.run_id == run_id, Cycle.index == index))
        if cycle is not None:
            return cycle.id
        previous = session.scalar(select(Cycle).where(Cycle.run_id == run_id, Cycle.index == index - 1))
        if previous is not None:
            adapter_in = previous.adapter_out_id or previous.adapter_in_id
        else:
            adapter_in = session.get(Run, run_id).config.get("model", {}).get("adapter_id")
        cycle = Cycle(run_id=run_id, index=index, adapter_in_id=adapter_in)
        session.add(cycle)
        session.flush()
        return cycle.id


def record_stage_time(store: Store, cycle_id: int, stage: str, seconds: float) -> None:
    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        timings = dict(cycle.stage_timings or {})
        timings[stage] = round(timings.get(stage, 0.0) + seconds, 3)  # a resumed stage adds to its time
        cycle.stage_timings = timings


@contextlib.contextmanager
def timed_stage(store: Store, cycle_id: int, stage: str) -> Iterator[None]:
    """Add the wall time of the block to the cycle's stage timings (also when the block fails)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record_stage_time(store, cycle_id, stage, time.perf_counter() - started)


def finish_cycle(store: Store, cycle_id: int, metrics: dict[str, Any]) -> None:
    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        cycle.status = "done"
        cycle.metrics = metrics
        cycle.finished_at = datetime.now(timezone.utc)


def cycle_summary(store: Store, cycle_id: int) -> dict[str, Any]:
    """The cycle's metrics, recounted from its candidates, with its stage timings."""
    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        metrics = cycle_metrics(session, session.get(Run, cycle.run_id), cycle).to_json()
        metrics["stage_timings"] = dict(cycle.stage_timings or {})
        return metrics


def close_cycle(store: Store, cycle_id: int) -> dict[str, Any]:
    """Recount the cycle's metrics from its candidates, store them on the cycle and mark it done."""
    metrics = cycle_summary(store, cycle_id)
    finish_cycle(store, cycle_id, metrics)
    return metrics


def cycle_done(store: Store, cycle_id: int) -> bool:
    with store.session() as session:
        return session.get(Cycle, cycle_id).status == "done"


def run_status(store: Store, run_id: int) -> dict[str, Any]:
    """Where a run stands: its status and, per cycle, the candidates by status and what is done."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NngptError(f"run {run_id} not found")
        cycles = []
        for cycle in session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)):
            statuses = dict(session.execute(
                select(Candidate.status, func.count()).where(Candidate.cycle_id == cycle.id).group_by(Candidate.status)
            ).all())
            sft = session.scalar(select(func.count()).select_from(SftExample).where(SftExample.cycle_id == cycle.id))
            cycles.append({
                "cycle": cycle.index,
                "status": cycle.status,
                "candidates": sum(statuses.values()),
                "statuses": statuses,
                "sft_examples": sft,
                "adapter_in": cycle.adapter_in_id,
                "adapter_out": cycle.adapter_out_id,
                "stage_timings": cycle.stage_timings,
            })
        return {
            "run": run.id, "name": run.name, "status": run.status, "dataset": run.dataset,
            "base_model": run.base_model, "planned_cycles": run.config.get("cycles"), "cycles": cycles,
        }
