"""Worker modes and the device plan: the GPU's sandbox design, exercised on the CPU; the CUDA branches where CUDA is.

CUDA cannot be initialised before a fork, so on a GPU each worker keeps one resident sandboxed
process that initialises the device once and runs candidates one after another (worker_mode
resident). Everything about that design but CUDA itself runs here with device cpu: scores equal to
fork mode, one process kept across `ok` candidates, a fresh one after a crash, a timeout, a leftover
thread, a change to torch's shared state or `recycle_after` candidates, and a scratch directory
emptied between candidates. The tests marked `cuda` run the same paths on a GPU (bf16 autocast,
channels_last, a device-side assert, GPU out-of-memory) and are skipped, with the reason, where
torch sees no CUDA device. Statuses of hostile candidates in resident mode: test_sandbox_hostile.py.
"""

from __future__ import annotations

import pytest
import torch

from nngpt_core.evaluate import Evaluator
from nngpt_core.evaluate.verdict import judge
from nngpt_core.sandbox.settings import LayerStatus
from tests.evaluator_helpers import CONTROL, FIXTURES, HOSTILE, assert_sandbox_clean, fast_config

torch.set_num_threads(1)
RESIDENT = FIXTURES / "resident"
NO_CUDA = "needs a CUDA device: torch.cuda.is_available() is False on this machine"
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


def source(path) -> str:
    return path.read_text()


def run_raw(evaluator: Evaluator, codes: list[str]) -> list[tuple[str, float | None, int | None, str | None]]:
    """(status, accuracy, resident process number, error) per code, straight from the pool (no static check)."""
    outcomes = evaluator.pool.run_many([{**evaluator.request_template, "code": code} for code in codes])
    judged = [judge(outcome, evaluator.test_labels, evaluator.num_classes, evaluator.settings) for outcome in outcomes]
    return [(j.status, j.accuracy, o.process, j.error) for j, o in zip(judged, outcomes)]


@pytest.fixture(scope="module")
def resident():
    with Evaluator(fast_config(worker_mode="resident", timeout_s=6), progress=False, static_checks=False) as evaluator:
        yield evaluator


@pytest.fixture(scope="module")
def forked():
    with Evaluator(fast_config(worker_mode="fork", timeout_s=6), progress=False, static_checks=False) as evaluator:
        yield evaluator


def test_resident_scores_like_fork_and_keeps_its_process(resident, forked):
    codes = [source(CONTROL), source(RESIDENT / "view_after_conv.py"), source(CONTROL)]
    in_fork = run_raw(forked, codes)
    in_resident = run_raw(resident, codes)
    assert [status for status, *_ in in_fork] == ["ok"] * 3 == [status for status, *_ in in_resident]
    assert [accuracy for _, accuracy, *_ in in_resident] == [accuracy for _, accuracy, *_ in in_fork]
    assert in_fork[0][2] is None  # fork mode has no resident process
    processes = [process for _, _, process, _ in in_resident]
    assert len(set(processes)) == 1, "ok candidates should share the resident process"
    assert_sandbox_clean(resident)


@pytest.mark.parametrize("hostile", ["hard_exit", "segfault_recursion", "loop_in_forward", "threads_left_running"])
def test_a_candidate_that_ends_badly_gets_a_fresh_process_for_the_next(resident, forked, hostile):
    expected = {"hard_exit": "crashed", "segfault_recursion": "crashed", "loop_in_forward": "timeout",
                "threads_left_running": "ok"}[hostile]
    baseline = run_raw(forked, [source(CONTROL)])[0]
    before, bad, after = run_raw(resident, [source(CONTROL), source(HOSTILE / f"{hostile}.py"), source(CONTROL)])
    assert bad[0] == expected, bad[3]
    assert before[0] == after[0] == "ok" and after[1] == baseline[1]  # the next candidate scores normally
    assert after[2] == bad[2] + 1, "the process that ran it was not replaced"
    assert_sandbox_clean(resident)


def test_changing_shared_torch_state_is_forbidden_only_where_the_process_is_shared(resident, forked):
    patch = source(RESIDENT / "patch_torch.py")
    assert run_raw(forked, [patch])[0][0] == "ok"
    baseline = run_raw(forked, [source(CONTROL)])[0]
    patched, after = run_raw(resident, [patch, source(CONTROL)])
    assert patched[0] == "forbidden" and "changed shared torch state" in patched[3]
    assert "torch.Tensor.argmax" in patched[3] and "global module hooks" in patched[3]
    assert after[0] == "ok" and after[1] == baseline[1] and after[2] == patched[2] + 1


def test_scratch_is_emptied_between_candidates_of_one_process(resident):
    marker = source(RESIDENT / "scratch_marker.py")
    results = run_raw(resident, [marker, marker, marker])
    assert [status for status, *_ in results] == ["ok"] * 3, results
    assert len({process for _, _, process, _ in results}) == 1


def test_recycle_after_bounds_what_one_process_serves():
    cfg = fast_config(worker_mode="resident", recycle_after=2)
    with Evaluator(cfg, progress=False) as evaluator:
        processes = [process for _, _, process, _ in run_raw(evaluator, [source(CONTROL)] * 5)]
    assert processes == [processes[0]] * 2 + [processes[0] + 1] * 2 + [processes[0] + 2]


def test_resident_process_has_the_layers_of_a_forked_candidate(resident, forked):
    def layers(evaluator):
        outcome = evaluator.pool.run_many([{**evaluator.request_template, "code": source(CONTROL)}])[0]
        statuses = [LayerStatus.from_list(item) for item in outcome.setup["layers"]]
        return {layer.name: (layer.active, layer.needed) for layer in statuses}

    in_resident, in_fork = layers(resident), layers(forked)
    assert in_resident == in_fork
    assert all(in_resident[name][0] for name in ("audit-hook", "clean-env", "rlimit-cpu"))


def probe(evaluator: Evaluator) -> str:
    """The device probe's report: what the model was given and how it computed."""
    status, _, _, error = run_raw(evaluator, [source(RESIDENT / "device_probe.py")])[0]
    assert "PROBE" in (error or ""), (status, error)
    return error


def test_warm_up_runs_before_the_fork_and_leaves_the_worker_single_threaded(forked):
    assert "warm=True" in probe(forked)  # torch._dynamo was imported by the warm-up, not by this candidate
    for worker in forked.pool.workers:
        with open(f"/proc/{worker.pid}/status") as status:
            threads = int(next(line for line in status if line.startswith("Threads:")).split()[1])
        assert threads == 1, "a thread pool existing at fork time would be copied half-alive into candidates"


@pytest.mark.parametrize("mode", ["fork", "resident"])
def test_device_plan_options_reach_the_model_on_cpu(mode):
    cfg = fast_config(worker_mode=mode, precision="bfloat16", channels_last="on", image_size=16)
    with Evaluator(cfg, progress=False, static_checks=False) as evaluator:
        report = probe(evaluator)
    assert "in_shape=(32, 1, 16, 16)" in report and "x=(1, 1, 16, 16)" in report
    assert "dtype=torch.bfloat16" in report
    # one channel: channels_last and contiguous coincide, so the layout cannot be told apart here
    plain = fast_config(worker_mode=mode)
    with Evaluator(plain, progress=False, static_checks=False) as evaluator:
        report = probe(evaluator)
    assert "in_shape=(32, 1, 8, 8)" in report and "dtype=torch.float32" in report and "layout=contiguous" in report


def test_channels_last_reaches_a_three_channel_model_and_falls_back_for_view():
    cfg = fast_config(dataset="digits32", train_subset=100, test_subset=50, channels_last="on", timeout_s=20)
    plain = cfg.model_copy(update={"channels_last": "off"})
    with Evaluator(cfg, progress=False, static_checks=False) as on, Evaluator(plain, progress=False, static_checks=False) as off:
        assert "layout=channels_last" in probe(on)
        assert "layout=contiguous" in probe(off)
        view_on, view_off = (run_raw(e, [source(RESIDENT / "view_after_conv.py")])[0] for e in (on, off))
    assert view_on[0] == view_off[0] == "ok" and view_on[1] == pytest.approx(view_off[1], abs=0.05)


def test_recipe_hash_changes_with_image_size_and_precision_but_not_for_old_recipes():
    from nngpt_core.evaluate.recipe import Recipe

    base = fast_config()
    old = Recipe.from_config(base)
    assert Recipe.from_config(base.model_copy(update={"image_size": 16})).hash != old.hash
    assert Recipe.from_config(base.model_copy(update={"precision": "bfloat16"})).hash != old.hash
    assert Recipe.from_config(base.model_copy(update={"random_flip": True})).hash != old.hash
    assert Recipe.from_config(base.model_copy(update={"device": "cuda"})).hash != old.hash  # auto precision: bf16 on CUDA
    # the defaults hash exactly as before these fields existed (stored evaluations stay comparable)
    fields = {key: value for key, value in old.to_dict().items() if key not in ("image_size", "random_flip", "precision")}
    import hashlib
    import json

    assert old.hash == hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- CUDA (skipped without a GPU)
@pytest.fixture(scope="module")
def on_gpu():
    cfg = fast_config(device="cuda", worker_mode="auto", timeout_s=60, dataset="digits32", train_subset=200, test_subset=100)
    with Evaluator(cfg, progress=False, static_checks=False) as evaluator:
        yield evaluator


@cuda_only
def test_cuda_defaults_resident_bf16_and_channels_last(on_gpu):
    assert on_gpu.settings.resident and on_gpu.request_template["precision"] == "bfloat16"
    report = probe(on_gpu)
    assert "dtype=torch.bfloat16" in report and "layout=channels_last" in report and "warm=True" in report


@cuda_only
@pytest.mark.parametrize(("fixture", "status", "text"), [
    ("gpu_fault.py", "runtime_error", "GPU fault"), ("gpu_memory_hog.py", "memory_limit", "out of memory"),
])
def test_a_candidate_that_breaks_the_gpu_gets_its_status_and_the_next_scores_normally(on_gpu, fixture, status, text):
    before, bad, after = run_raw(on_gpu, [source(CONTROL), source(RESIDENT / fixture), source(CONTROL)])
    assert bad[0] == status and text.lower() in (bad[3] or "").lower(), bad
    assert before[0] == after[0] == "ok" and after[1] == pytest.approx(before[1], abs=0.02)
    assert after[2] == bad[2] + 1


@cuda_only
def test_fork_mode_on_cuda_initialises_the_device_in_each_candidate():
    cfg = fast_config(device="cuda", worker_mode="fork", timeout_s=60)
    with Evaluator(cfg, progress=False) as evaluator:
        results = evaluator.evaluate_many([source(CONTROL)] * 2)
    assert [result.status for result in results] == ["ok", "ok"] and results[0].accuracy == results[1].accuracy
