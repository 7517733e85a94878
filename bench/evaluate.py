"""Benchmark of candidate evaluation: process per candidate (PIL DataLoader), an unsandboxed in-process loop, and the sandbox.

    .venv/bin/python bench/evaluate.py                    # 12 seed architectures on digits32 (a few minutes on 2 cores)
    .venv/bin/python bench/evaluate.py --count 20 --workers 2
    .venv/bin/python bench/evaluate.py --quick            # 10 architectures, ours with one worker only
    .venv/bin/python bench/evaluate.py --overhead         # the sandbox's cost: 8 architectures, digits, batch 16, 1 worker
    (whole runs one after another drift on a shared machine; bench/sandbox_overhead.py measures the sandbox's
    cost per candidate in back-to-back pairs)

The same architectures (the first --count files of nngpt_core/corpus/seeds, in name order) are
evaluated side by side in one run, one epoch on --dataset (digits32) with the same recipe (SGD,
lr 0.01, momentum 0.9, batch --batch, 32):

  naive   what the reference pipeline does per candidate: start a fresh Python process, import torch
          and torchvision, load the dataset, wrap it in a torchvision-style Dataset whose transforms
          (Resize, Grayscale to 3 channels, ToTensor, Normalize) run per sample on PIL images behind a
          DataLoader, train, test. Candidates run one after another, unsandboxed.
  in-process  the same files evaluated one after another in one fresh, unsandboxed process: exec,
          build, train on the tensors, predict. No static check, no FLOP count, no fingerprint, no
          sandbox: the floor the sandbox is measured against. One warm-up model runs first, as
          the sandbox's workers do, so neither side pays torch's lazy start-up per candidate.
  ours    nngpt_core.evaluate.Evaluator: static checks, warm forked sandboxes (all layers on), data
          resident as tensors and shared by the workers; start-up (dataset and workers) included.
          With --resident also the resident worker mode (one sandboxed process runs them all).
  cli     (--cli) `nngpt eval --store` on the files, a fresh CLI process with its store writes;
          its marginal cost is (T(all files) - T(first file)) / (files - 1), so it is compared with the
          in-process loop's mean over the same files (all but the first; the first seed is the
          cheapest, and comparing with the mean over all files overstated the CLI's cost by ~8%).

It prints wall time, start-up, the marginal seconds per candidate (wall time after start-up, per
candidate), candidates per minute, the speed-up over naive, the marginal cost over the in-process
loop, the marginal CPU seconds per candidate of every process involved (the parent, the warm
workers and everything they fork, read from /proc and getrusage: steadier than wall time on a
shared machine, where the other jobs' load stretches wall time but not CPU time), and the mean
accuracy of the `ok` candidates (a sanity check that all do the same work). With --repeat N every
method runs N times, in rounds, and the run with the lowest marginal wall time is shown.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "nngpt_core" / "corpus" / "seeds"
RECIPE = {"lr": 0.01, "momentum": 0.9, "batch": 32, "dropout": 0.2}


@dataclass
class Measured:
    """One method's run: wall time, the part of it that was start-up, and per-candidate results."""

    name: str
    wall_s: float
    startup_s: float
    results: list[dict]
    marginal_s: float | None = None  # seconds per candidate once started; None = (wall - start-up) / count
    marginal_cpu_s: float | None = None  # CPU seconds per candidate once started, all processes involved
    skipped: int = 0  # leading candidates the marginal leaves out (the CLI's: the first file is its start-up run)

    def marginal(self) -> float:
        if self.marginal_s is not None:
            return self.marginal_s
        return (self.wall_s - self.startup_s) / max(1, len(self.results))


def _stat_cpu(pid: int) -> float:
    """CPU seconds of a live process, its own and that of the children it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # it ended between listing and reading
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by `roots`, their live descendants and every descendant they reaped."""
    from nngpt_core.sandbox.processes import leftover_pids

    pids = set(roots)
    for root in roots:
        pids |= leftover_pids(root, None)
    return sum(_stat_cpu(pid) for pid in pids)


def children_cpu() -> float:
    """CPU seconds of this process's reaped children (and theirs): a finished subprocess's whole tree."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive_one(path: str) -> dict:
    """One candidate the naive way, inside this fresh process (called as `evaluate.py naive-one FILE`)."""
    import torch
    import torchvision.transforms as T
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch.utils.data import DataLoader, Dataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.perf_counter()
    digits = load_digits()
    pixels = (digits.images * (255.0 / 16.0)).astype("uint8")
    train_i, test_i = train_test_split(range(len(pixels)), test_size=0.2, stratify=digits.target, random_state=0)

    class DigitImages(Dataset):
        def __init__(self, indices):
            self.indices = list(indices)
            self.transform = T.Compose([
                T.Resize(32), T.Grayscale(num_output_channels=3), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3),
            ])

        def __len__(self):
            return len(self.indices)

        def __getitem__(self, item):
            index = self.indices[item]
            return self.transform(Image.fromarray(pixels[index])), int(digits.target[index])

    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keys = module.supported_hyperparameters()
    prm = {key: RECIPE.get(key, 0.5) for key in keys}
    prm.update(RECIPE)
    model = module.Net((RECIPE["batch"], 3, 32, 32), (10,), prm, torch.device("cpu"))
    model.train_setup(prm)
    model.learn(DataLoader(DigitImages(train_i), batch_size=RECIPE["batch"], shuffle=True))
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in DataLoader(DigitImages(test_i), batch_size=256):
            correct += int((model(images).argmax(1) == labels).sum())
            total += len(labels)
    return {"status": "ok", "accuracy": correct / total, "seconds": time.perf_counter() - started}


def run_naive(paths: list[Path], timeout_s: float) -> Measured:
    results = []
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for path in paths:
        command = [sys.executable, __file__, "naive-one", str(path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
            lines = done.stdout.strip().splitlines()
            results.append(json.loads(lines[-1]) if done.returncode == 0 and lines else {"status": "error"})
        except subprocess.TimeoutExpired:
            results.append({"status": "timeout"})
    return Measured("naive: process per candidate, PIL DataLoader", time.perf_counter() - started, 0.0, results)


def unsandboxed_evaluator(dataset: str, batch: int):
    """evaluate(code) -> {status, accuracy}: exec, build, train on the tensors and predict in this process,
    unsandboxed; torch's lazy start-up already paid (the optimizers import torch._dynamo), as the
    sandbox's workers pay it in their warm-up."""
    import torch

    from nngpt_core.config import EvaluationConfig
    from nngpt_core.data import load_dataset
    from nngpt_core.data.tensors import iterate_batches
    from nngpt_core.evaluate.recipe import Recipe, fill_hyperparameters, requested_keys
    from nngpt_core.evaluate.runner import WARM_UP_CODE

    torch.set_num_threads(1)
    cfg = EvaluationConfig(dataset=dataset, hyperparameters={**EvaluationConfig().hyperparameters, "batch": batch})
    recipe = Recipe.from_config(cfg)
    data = load_dataset(dataset, seed=cfg.seed)

    def evaluate(code: str) -> dict:
        torch.manual_seed(cfg.seed)
        namespace: dict = {"__name__": "candidate"}
        try:
            exec(compile(code, "<candidate>", "exec"), namespace)
            prm = fill_hyperparameters(requested_keys(namespace["supported_hyperparameters"]()), recipe.hyperparameters,
                                       recipe.neutral_value, batch)
            model = namespace["Net"]((batch, *data.train_x.shape[1:]), (data.num_classes,), prm, torch.device("cpu"))
            model.train_setup(prm)
            model.train()
            generator = torch.Generator().manual_seed(cfg.seed)
            model.learn(iterate_batches(data.train_x, data.train_y, batch, generator=generator,
                                        drop_last=len(data.train_x) % batch == 1))
            model.eval()
            with torch.no_grad():
                predictions = torch.cat([model(data.test_x[i:i + 256]).argmax(1) for i in range(0, len(data.test_x), 256)])
        except Exception as exc:  # a failing candidate is a result here too
            return {"status": "error", "accuracy": None, "error": f"{type(exc).__name__}: {exc}"[:200]}
        return {"status": "ok", "accuracy": float((predictions == data.test_y).float().mean())}

    evaluate(WARM_UP_CODE)
    return evaluate


def in_process_loop(dataset: str, batch: int, paths: list[str]) -> dict:
    """Evaluate `paths` one after another in this process, unsandboxed (called as `evaluate.py in-process ...`)."""
    started = time.perf_counter()
    evaluate = unsandboxed_evaluator(dataset, batch)

    def timed(code: str) -> dict:
        wall, cpu = time.perf_counter(), time.process_time()
        result = evaluate(code)
        return {**result, "seconds": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}

    loop_started, loop_cpu = time.perf_counter(), time.process_time()
    results = [timed(Path(path).read_text()) for path in paths]
    return {"startup_s": loop_started - started, "loop_s": time.perf_counter() - loop_started,
            "loop_cpu_s": time.process_time() - loop_cpu, "results": results}


def run_in_process(paths: list[Path], dataset: str, batch: int) -> Measured:
    started = time.perf_counter()
    command = [sys.executable, __file__, "in-process", dataset, str(batch), *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"the in-process loop failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - started
    return Measured("in-process: one unsandboxed process, tensors", wall, wall - report["loop_s"], report["results"],
                    marginal_cpu_s=report["loop_cpu_s"] / len(paths))


def run_ours(paths: list[Path], workers: int, timeout_s: float, dataset: str, batch: int, mode: str) -> Measured:
    from nngpt_core.config import EvaluationConfig
    from nngpt_core.evaluate import Evaluator

    started = time.perf_counter()
    cfg = EvaluationConfig(dataset=dataset, workers=workers, timeout_s=timeout_s, worker_mode=mode,
                           hyperparameters={**EvaluationConfig().hyperparameters, "batch": batch})
    with Evaluator(cfg) as evaluator:
        startup = time.perf_counter() - started
        workers_pids = [worker.pid for worker in evaluator.pool.workers]
        cpu_before = time.process_time() + tree_cpu(workers_pids)
        results = evaluator.evaluate_many([path.read_text() for path in paths])
        cpu = time.process_time() + tree_cpu(workers_pids) - cpu_before
    plural = "s" if workers > 1 else ""
    return Measured(f"ours: sandbox pool, {mode} mode, {workers} worker{plural}", time.perf_counter() - started, startup,
                    [{"status": r.status, "accuracy": r.accuracy} for r in results], marginal_cpu_s=cpu / len(paths))


def _nngpt_eval(paths: list[Path], dataset: str, batch: int, store_dir: str) -> tuple[float, list[dict]]:
    config = Path(store_dir) / "bench.yaml"
    from nngpt_core.config import EvaluationConfig

    hyperparameters = {**EvaluationConfig().hyperparameters, "batch": batch}
    config.write_text(json.dumps({"evaluation": {"dataset": dataset, "workers": 1, "hyperparameters": hyperparameters},
                                  "store": {"data_dir": store_dir}}))
    command = [str(Path(sys.executable).with_name("nngpt")), "eval", *map(str, paths), "--store", "--json", "--config", str(config)]
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"nngpt eval failed: {done.stderr[-2000:]}")
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return time.perf_counter() - started, children_cpu() - cpu, records


def run_cli(paths: list[Path], dataset: str, batch: int) -> Measured:
    with tempfile.TemporaryDirectory(prefix="nngpt-bench-") as first, tempfile.TemporaryDirectory(prefix="nngpt-bench-") as every:
        one_s, one_cpu, _ = _nngpt_eval(paths[:1], dataset, batch, first)
        all_s, all_cpu, results = _nngpt_eval(paths, dataset, batch, every)
    marginal = (all_s - one_s) / max(1, len(paths) - 1)
    return Measured("cli: nngpt eval --store, 1 worker", all_s, all_s - marginal * len(paths), results, marginal,
                    (all_cpu - one_cpu) / max(1, len(paths) - 1), skipped=1)


def _mean_ok_accuracy(results: list[dict]) -> str:
    scores = [r["accuracy"] for r in results if r["status"] == "ok"]
    return f"{sum(scores) / len(scores):.3f} ({len(scores)} ok)" if scores else "-"


def _best(runs: list[Measured]) -> Measured:
    return min(runs, key=Measured.marginal)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "naive-one":
        print(json.dumps(naive_one(sys.argv[2])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "in-process":
        print(json.dumps(in_process_loop(sys.argv[2], int(sys.argv[3]), sys.argv[4:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=12, help="architectures from the seed corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="pool sizes to measure for ours")
    parser.add_argument("--dataset", default="digits32", help="dataset from the registry")
    parser.add_argument("--batch", type=int, default=32, help="training batch size of the recipe")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-candidate limit, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method; the fastest is shown")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the process-per-candidate baseline")
    parser.add_argument("--resident", action="store_true", help="also measure ours in resident worker mode")
    parser.add_argument("--cli", action="store_true", help="also measure `nngpt eval --store` (two CLI runs)")
    parser.add_argument("--quick", action="store_true", help="10 architectures, ours with one worker")
    parser.add_argument("--overhead", action="store_true",
                        help="the sandbox's cost: 8 architectures, digits, batch 16, 1 worker, resident and CLI rows, no naive")
    args = parser.parse_args()
    count, workers = (10, [1]) if args.quick else (args.count, args.workers)
    if args.overhead:
        count, workers, args.dataset, args.batch, args.skip_naive, args.resident, args.cli = 8, [1], "digits", 16, True, True, True
    paths = sorted(p for p in SEEDS.glob("*.py") if p.name != "__init__.py")[:count]
    if len(paths) < 2:
        raise SystemExit(f"need at least 2 architectures, found {len(paths)} in {SEEDS}")
    console = Console(width=200)
    console.print(f"{len(paths)} architectures from {SEEDS.relative_to(ROOT)}, {args.dataset}, batch {args.batch}, 1 epoch, "
                  f"on {os.cpu_count()} CPUs, best of {args.repeat}")
    plans = [] if args.skip_naive else [lambda: run_naive(paths, args.timeout)]
    plans.append(lambda: run_in_process(paths, args.dataset, args.batch))
    for size in workers:
        plans.append(lambda size=size: run_ours(paths, size, args.timeout, args.dataset, args.batch, "fork"))
    if args.resident:
        plans.append(lambda: run_ours(paths, workers[0], args.timeout, args.dataset, args.batch, "resident"))
    if args.cli:
        plans.append(lambda: run_cli(paths, args.dataset, args.batch))
    runs: list[list[Measured]] = [[] for _ in plans]
    for _ in range(args.repeat):  # rounds, so that a busy spell of a shared machine hits every method alike
        for index, plan in enumerate(plans):
            runs[index].append(plan())
    rows = [_best(measured) for measured in runs]
    naive = rows[0] if not args.skip_naive else None
    floor = next(row for row in rows if row.name.startswith("in-process"))
    table = Table("method", "wall s", "start-up s", "marginal s/cand", "candidates/min", "speed-up vs naive",
                  "marginal vs in-process", "marginal CPU s/cand", "CPU vs in-process", "mean accuracy of ok",
                  title="evaluation throughput")
    for row in rows:
        cpu = row.marginal_cpu_s
        # against the in-process loop over the same candidates (the CLI's marginal leaves the first file out)
        same = floor.results[row.skipped:]
        floor_s = sum(r["seconds"] for r in same) / len(same)
        floor_cpu_s = sum(r["cpu_s"] for r in same) / len(same)
        table.add_row(row.name, f"{row.wall_s:.1f}", f"{row.startup_s:.1f}", f"{row.marginal():.2f}",
                      f"{60 * len(paths) / row.wall_s:.1f}", f"{naive.wall_s / row.wall_s:.2f}x" if naive else "-",
                      f"{row.marginal() / floor_s:.2f}x", "-" if cpu is None else f"{cpu:.2f}",
                      "-" if cpu is None else f"{cpu / floor_cpu_s:.2f}x", _mean_ok_accuracy(row.results))
    console.print(table)


if __name__ == "__main__":
    main()
