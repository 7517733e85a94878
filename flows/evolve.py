"""The `evolve` flow: create (or resume) a run, then run its cycles as subflows and write the report.

    nngpt run --config configs/smoke.yaml        # local, Prefect's ephemeral mode
    nngpt run --resume 3                         # continue run 3 where it stopped
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.cycle import cycle
from nngpt_core.config import RunConfig
from nngpt_core.loop import preflight, stages
from nngpt_core.loop.runs import import_training_corpus, set_run_status, start_run, stored_config
from tasks import stages as stage
from tasks.concurrency import ensure_device_slots
from tasks.policy import store_for


@flow(name="evolve", log_prints=True)
def evolve(config: RunConfig = RunConfig(), resume_run: int | None = None, cycles: int | None = None) -> int:
    """Run the cycles of generate -> evaluate -> filter -> admit -> fine-tune; returns the run id.

    `resume_run` continues a stored run with the config it was started with; `cycles` overrides how
    many cycles the run has in total.
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
    set_run_status(store, run_id, "running", cycles=config.cycles)
    ensure_device_slots(config)
    for index in range(config.cycles):
        cycle(config, run_id, index)
    stage.report(config, run_id, str(stages.report_dir(config, run_id)))
    set_run_status(store, run_id, "done")
    return run_id
