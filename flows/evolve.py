"""The `evolve` flow: create (or resume) a run, then run its cycles as subflows and write the report.

    nngpt run --config configs/smoke.yaml        # local, Prefect's ephemeral mode
    nngpt run --resume 3                         # continue run 3 where it stopped

Started from the Prefect UI it does the same on the worker: it migrates a fresh store, names its
flow run after the run it creates ("run 3 · nngpt · store a3f09c1e"), publishes the report as an
artifact after every cycle, and once more when the run is done.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from nngpt_core.config import RunConfig, optional
from nngpt_core.loop import preflight
from nngpt_core.loop.report import report_dir
from nngpt_core.loop.runs import failed_on_error, import_training_corpus, run_progress, set_run_status, start_run, stored_config
from nngpt_flows.cycle import cycle
from nngpt_tasks import stages as stage
from nngpt_tasks.artifacts import publish_run_artifacts
from nngpt_tasks.labels import name_flow_run
from nngpt_tasks.policy import store_for


@flow(name="evolve", log_prints=True)
def evolve(
    config: RunConfig = RunConfig(),
    resume_run: optional(int, "run id", "new run", minimum=1) = None,
    cycles: optional(int, "cycles", "as in config", minimum=1) = None,
) -> int:
    """Run the cycles of generate -> evaluate -> filter -> admit -> fine-tune; returns the run id.

    Args:
        config: The run's configuration; every section has its defaults (a CPU-only worker evaluates on its CPU).
        resume_run: Continue this stored run with the config it was started with (only `store` is taken from `config`).
        cycles: Cycles the run has in total, overriding `config.cycles` (e.g. to extend a resumed run).
    """
    logger = get_run_logger()
    store = store_for(config)
    if resume_run is not None:
        # the stored config keeps the run comparable; the store section is where we found it
        config = stored_config(store, resume_run).model_copy(update={"store": config.store})
        run_id = resume_run
        logger.info("resuming run %d", run_id)
    else:
        preflight.check(config)
        corpus = None
        if config.store.import_training_corpus:
            added, corpus = import_training_corpus(store, config)
            logger.info("training corpus of the model (%s): %d architectures imported", corpus["counts"], added)
        run_id = start_run(store, config, corpus)
        logger.info("started run %d (%s)", run_id, store.masked_url)
    if cycles is not None:
        config = config.model_copy(update={"cycles": cycles})
    name_flow_run(store, f"run {run_id} · {config.name}")
    set_run_status(store, run_id, "running", cycles=config.cycles)
    with failed_on_error(store, run_id):
        for index in range(config.cycles):
            cycle(run_id=run_id, index=index, store=config.store)
        set_run_status(store, run_id, "done")
        stage.report(config, run_id, str(report_dir(config, run_id)))
        publish_run_artifacts(config, run_id, f"finished: {run_progress(store, run_id)}")
    return run_id
