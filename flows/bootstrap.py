"""The `bootstrap` flow: train the embedded default model (tokenizer + small Llama) on the seed corpus."""

from __future__ import annotations

from prefect import flow

from nngpt_core.llm.bootstrap import bootstrap as train_bootstrap_model
from nngpt_core.llm.bootstrap.settings import BootstrapSettings


@flow(name="bootstrap", log_prints=True)
def bootstrap(settings: BootstrapSettings = BootstrapSettings()) -> str:
    """Train and save the bootstrap model; returns its directory."""
    return str(train_bootstrap_model(settings).out)
