"""The Prefect concurrency limit that bounds evaluation shards per device (created on first use)."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists

from nngpt_core.config import RunConfig
from nngpt_core.loop.stages import device_slot_name


def ensure_device_slots(cfg: RunConfig) -> str:
    """Create or resize the device's global concurrency limit to `orchestration.device_slots`.

    Shards starting together on one machine may race to create it: losing that race is fine.
    """
    name = device_slot_name(cfg)
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, cfg.orchestration.device_slots)
        except ObjectAlreadyExists:
            pass
    return name
