"""The Prefect concurrency limit that bounds evaluation shards per device (created on first use)."""

from __future__ import annotations

import re
import socket

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists

from nngpt_core.config import RunConfig

DEVICE_SLOT_PREFIX = "nngpt-device-"


def device_slot_name(cfg: RunConfig) -> str:
    """The Prefect concurrency limit that bounds evaluation shards on this device.

    Prefect's limits are global to the server. Locally one name per device is enough; when shards
    run on several machines (the pool and dask backends), the host name is part of it, so that each
    machine's device has its own `device_slots`.
    """
    from nngpt_core.evaluate.device import resolve_evaluation_device

    device = cfg.evaluation.device
    if device == "auto":  # the device this machine evaluates on
        device = resolve_evaluation_device(device)
    device = device.replace(":", "-")
    if cfg.orchestration.evaluation_backend == "local":
        return DEVICE_SLOT_PREFIX + device
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname()).strip("-") or "host"
    return f"{DEVICE_SLOT_PREFIX}{host}-{device}"


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
