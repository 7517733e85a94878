"""GPU benchmark, one prepared script: candidate evaluation ours vs the paper's recipe, and LLM generation throughput.

    .venv/bin/python bench/gpu.py                 # on a CUDA machine; about 6 minutes on one H200
    .venv/bin/python bench/gpu.py --smoke         # tiny sizes on the CPU: checks that every part runs (the tests do)

Part 1, evaluation: the first --archs seed architectures (nngpt_core/corpus/seeds, name order), one
epoch each on CIFAR-shaped data made in memory (3x32x32, --train images, 10 classes: a fixed
pattern per class plus noise, so that accuracy means something), the paper's hyperparameters
(SGD lr 0.01, momentum 0.9, batch 16, dropout 0.2), side by side:

  paper   the recipe of the authors' pipeline: a torchvision Dataset with per-sample PIL transforms
          (Resize to the LEMUR transform's 256 pixels, random flip, ToTensor, Normalize) behind a
          DataLoader with 1 worker, batch 16, float32, candidates one after another in one process,
          unsandboxed. A full epoch per architecture does not fit the time budget: each one trains
          --paper-steps batches and predicts --paper-test-batches, and its epoch is extrapolated from
          the steady per-batch time (first 10 batches excluded) plus the measured start-up.
  ours    nngpt_core.evaluate.Evaluator on the device: static checks, resident sandboxed workers
          (--workers share the GPU), data resident on the GPU, transforms on the GPU, bf16 autocast,
          channels_last, a full epoch measured end to end; once with the same transform as the paper
          (256 pixels, random flip) and once at the data's own 32 pixels (our default recipe).

Part 2, generation: a randomly initialised Llama of DeepSeek-Coder-1.3B's shape (hidden 2048, 24
layers, 16 heads, vocabulary 32256) in bf16 on the device, HF `generate` with sampling as
nngpt_core.llm.generate calls it, --new-tokens per completion from a 512-token prompt: one prompt
at a time vs --gen-batch prompts in one batch. Tokens per second of each and the ratio.

Every number is measured in this run; the table names the device.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "nngpt_core" / "corpus" / "seeds"
PRM = {"lr": 0.01, "momentum": 0.9, "batch": 16, "dropout": 0.2}
LEMUR_SIZE = 256
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's, as the LEMUR transform uses
STEADY_AFTER = 10  # batches: the DataLoader worker's start and cuDNN's first calls are in the start-up


@dataclass
class Sizes:
    archs: int
    train: int
    test: int
    workers: int
    paper_steps: int
    paper_test_batches: int
    lemur_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    prompt_tokens: int
    new_tokens: int
    one_at_a_time: int
    gen_batch: int


FULL = Sizes(archs=16, train=50_000, test=10_000, workers=8, paper_steps=120, paper_test_batches=20, lemur_size=LEMUR_SIZE,
             hidden=2048, layers=24, heads=16, intermediate=5504, vocab=32256, prompt_tokens=512, new_tokens=256,
             one_at_a_time=4, gen_batch=32)
SMOKE = Sizes(archs=2, train=256, test=64, workers=1, paper_steps=13, paper_test_batches=2, lemur_size=40,
              hidden=64, layers=2, heads=4, intermediate=128, vocab=512, prompt_tokens=32, new_tokens=8,
              one_at_a_time=2, gen_batch=4)


def synthetic_cifar(train: int, test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) and labels: each class a fixed random pattern, each image the pattern plus noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, size=(10, 32, 32, 3)).astype(np.float32)

    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, size=count)
        noise = rng.normal(0, 80, size=(count, 32, 32, 3)).astype(np.float32)
        return np.clip(0.5 * patterns[labels] + 0.5 * 127 + noise, 0, 255).astype(np.uint8), labels.astype(np.int64)

    train_x, train_y = split(train)
    test_x, test_y = split(test)
    return train_x, train_y, test_x, test_y


def as_tensors(train_x, train_y, test_x, test_y):
    """Our dataset bundle: normalized float tensors (N, 3, 32, 32), as nngpt_core.data loads CIFAR-10."""
    from nngpt_core.data.tensors import DatasetTensors, normalize_images, uint8_to_tensor

    def images(array):
        return normalize_images(uint8_to_tensor(array, channels_last=True), MEAN, STD)

    return DatasetTensors("synthetic-cifar", images(train_x), torch.as_tensor(train_y), images(test_x),
                          torch.as_tensor(test_y), 10, (3, 32, 32), hflip=True)


# ----------------------------------------------------------------------------- the paper's recipe
def paper_candidate(code: str, data, sizes: Sizes, device: torch.device) -> dict:
    """One candidate the paper's way; its one-epoch time is extrapolated from the batches it ran."""
    import torchvision.transforms as T
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    train_x, train_y, test_x, test_y = data

    class Images(Dataset):
        def __init__(self, images, labels, train: bool):
            self.images, self.labels = images, labels
            flip = [T.RandomHorizontalFlip()] if train else []
            self.transform = T.Compose([T.Resize((sizes.lemur_size, sizes.lemur_size)), *flip, T.ToTensor(),
                                        T.Normalize(MEAN, STD)])

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])

    def synced() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    started = synced()
    torch.manual_seed(0)
    namespace: dict = {"__name__": "candidate"}
    exec(compile(code, "<candidate>", "exec"), namespace)
    prm = {key: PRM.get(key, 0.5) for key in namespace["supported_hyperparameters"]()}
    prm.update(PRM)
    model = namespace["Net"]((16, 3, sizes.lemur_size, sizes.lemur_size), (10,), prm, device)
    model.to(device)
    model.train_setup(prm)
    stamps: list[float] = []

    def limited(loader, steps):
        for step, (inputs, labels) in enumerate(loader):
            if step == steps:
                return
            stamps.append(synced())
            yield inputs.to(device), labels.to(device)

    built = synced()
    loader = DataLoader(Images(train_x, train_y, True), batch_size=16, shuffle=True, num_workers=1)
    model.learn(limited(loader, sizes.paper_steps))
    trained = synced()
    stamps.append(trained)
    steady = (stamps[-1] - stamps[STEADY_AFTER]) / (len(stamps) - 1 - STEADY_AFTER)
    train_startup = (stamps[STEADY_AFTER] - built) - STEADY_AFTER * steady
    epoch_batches = math.ceil(len(train_x) / 16)
    model.eval()
    correct = total = 0
    test_started = synced()
    with torch.no_grad():
        for step, (inputs, labels) in enumerate(DataLoader(Images(test_x, test_y, False), batch_size=16, num_workers=1)):
            if step == sizes.paper_test_batches:
                break
            correct += int((model(inputs.to(device)).argmax(1).cpu() == labels).sum())
            total += len(labels)
    per_test_batch = (synced() - test_started) / sizes.paper_test_batches
    estimate = (built - started) + train_startup + steady * epoch_batches + per_test_batch * math.ceil(len(test_x) / 16)
    return {"status": "ok", "epoch_s": estimate, "measured_s": synced() - started, "accuracy": correct / max(total, 1)}


def run_paper(codes: list[str], data, sizes: Sizes, device: torch.device, console: Console) -> list[dict]:
    results = []
    for index, code in enumerate(codes):
        try:
            results.append(paper_candidate(code, data, sizes, device))
        except Exception as exc:  # a candidate that fails the paper's way is a result, as in ours
            results.append({"status": "error", "error": f"{type(exc).__name__}: {exc}"[:160], "epoch_s": 0.0, "measured_s": 0.0})
        console.log(f"paper recipe {index + 1}/{len(codes)}: {results[-1]['status']}, "
                    f"epoch ~{results[-1]['epoch_s']:.1f} s (measured {results[-1]['measured_s']:.1f} s)")
    return results


# ----------------------------------------------------------------------------- ours
def run_ours(codes: list[str], tensors, sizes: Sizes, device: str, image_size: int | None,
             deadline: float) -> tuple[float, float, list]:
    """(start-up s, evaluation wall s, results) of our evaluator on `tensors`.

    Candidates go in rounds of one per worker; no round starts after `deadline` (time.perf_counter),
    so the script keeps its time budget and the rate is computed over the candidates that ran.
    """
    from nngpt_core.config import EvaluationConfig
    from nngpt_core.evaluate import Evaluator

    # the tensors are the synthetic CIFAR-shaped set passed as data=; the registry name (config
    # datasets are registry names) only labels the results
    cfg = EvaluationConfig(
        dataset="cifar10", device=device, workers=sizes.workers, hyperparameters=PRM, image_size=image_size,
        random_flip=image_size is not None, timeout_s=1200, max_params=60_000_000, max_flops=40_000_000_000,
        memory_limit_mb=16384,
    )
    started = time.perf_counter()
    results: list = []
    with Evaluator(cfg, data=tensors, progress=False) as evaluator:
        startup = time.perf_counter() - started
        begun = time.perf_counter()
        for first in range(0, len(codes), sizes.workers):
            if results and time.perf_counter() > deadline:
                break
            results += evaluator.evaluate_many(codes[first:first + sizes.workers])
        wall = time.perf_counter() - begun
    return startup, wall, results


# ----------------------------------------------------------------------------- generation
def generation(sizes: Sizes, device: torch.device) -> tuple[list[tuple[str, int, float]], int]:
    """([(mode, new tokens, seconds)] for one prompt at a time and for one batch, parameters of the model)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=sizes.vocab, hidden_size=sizes.hidden, intermediate_size=sizes.intermediate,
                         num_hidden_layers=sizes.layers, num_attention_heads=sizes.heads, num_key_value_heads=sizes.heads,
                         max_position_embeddings=4096, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype).eval()
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(3, sizes.vocab, (max(sizes.gen_batch, sizes.one_at_a_time), sizes.prompt_tokens), generator=generator)

    def generate(batch: torch.Tensor) -> int:
        with torch.inference_mode():
            out = model.generate(input_ids=batch.to(device), attention_mask=torch.ones_like(batch, device=device),
                                 do_sample=True, temperature=0.7, top_k=100, top_p=0.95,
                                 max_new_tokens=sizes.new_tokens, min_new_tokens=sizes.new_tokens, pad_token_id=0)
        return (out.shape[1] - batch.shape[1]) * batch.shape[0]

    def timed(fn) -> tuple[int, float]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        tokens = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return tokens, time.perf_counter() - started

    generate(prompts[:1, :16])  # warm-up: kernels and the allocator, not measured
    one_tokens, one_s = timed(lambda: sum(generate(prompts[i:i + 1]) for i in range(sizes.one_at_a_time)))
    batch_tokens, batch_s = timed(lambda: generate(prompts[:sizes.gen_batch]))
    params = sum(p.numel() for p in model.parameters())
    return [(f"one at a time ({sizes.one_at_a_time} prompts)", one_tokens, one_s),
            (f"batched ({sizes.gen_batch} prompts in one call)", batch_tokens, batch_s)], params


def _mean_accuracy(results) -> str:
    scores = [r.accuracy if hasattr(r, "accuracy") else r.get("accuracy") for r in results
              if (r.status if hasattr(r, "status") else r["status"]) == "ok"]
    scores = [s for s in scores if s is not None]
    return f"{sum(scores) / len(scores):.3f} ({len(scores)} ok)" if scores else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a check that every part runs)")
    parser.add_argument("--archs", type=int, help="seed architectures evaluated")
    parser.add_argument("--workers", type=int, help="our sandboxed workers sharing the device")
    parser.add_argument("--paper-steps", type=int, help="training batches per architecture for the paper's recipe")
    parser.add_argument("--skip-generation", action="store_true", help="leave out part 2")
    parser.add_argument("--budget-s", type=float, default=330.0,
                        help="no round of our evaluation starts later than this many seconds into the run")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    for name in ("archs", "workers", "paper_steps"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("error: bench/gpu.py needs a CUDA device (torch.cuda.is_available() is False); --smoke runs on the CPU")
    device = torch.device("cpu" if args.smoke else "cuda")
    name = "CPU (smoke sizes)" if args.smoke else torch.cuda.get_device_name(0)
    console = Console(width=200)
    console.print(f"device: {name}; torch {torch.__version__}; {sizes.archs} architectures, {sizes.train} training images")
    begun = time.perf_counter()
    paths = sorted(p for p in SEEDS.glob("*.py") if p.name != "__init__.py")[:sizes.archs]
    codes = [path.read_text() for path in paths]
    raw = synthetic_cifar(sizes.train, sizes.test)
    tensors = as_tensors(*raw)

    paper = run_paper(codes, raw, sizes, device, console)
    rows = [("paper: DataLoader, 1 worker, PIL transforms, 256 px, fp32 (extrapolated epochs)", 0.0,
             sum(r["epoch_s"] for r in paper), paper)]
    # The transform-matched row runs last, after generation: it starts no round after the time budget.
    measured = None
    for image_size, label in ((None, "32 px"), (sizes.lemur_size, "same transform, 256 px")):
        if image_size is not None and not args.skip_generation:
            measured = generation(sizes, device)
        startup, wall, results = run_ours(codes, tensors, sizes, device.type, image_size, begun + args.budget_s)
        console.log(f"ours ({label}): {len(results)} candidates in {wall:.1f} s after {startup:.1f} s start-up")
        where, precision = ("GPU", "bf16") if device.type == "cuda" else ("CPU", "fp32")
        rows.append((f"ours: sandbox, {sizes.workers} worker(s), data resident on the {where}, {precision}, {label}",
                     startup, wall, results))
    if args.smoke:
        rows = [(row[0].replace("256 px", f"{sizes.lemur_size} px"), *row[1:]) for row in rows]
    paper_rate = len(paper) / rows[0][2]
    table = Table("method", "candidates", "start-up s", "evaluation s", "candidates/min", "vs paper", "mean accuracy of ok",
                  title=f"one-epoch evaluation of seed architectures, batch 16, {sizes.train} training images ({name})")
    for method, startup, wall, results in rows:
        rate = len(results) / wall if wall > 0 else 0.0
        table.add_row(method, str(len(results)), f"{startup:.1f}", f"{wall:.1f}", f"{60 * rate:.2f}",
                      f"{rate / paper_rate:.1f}x" if paper_rate else "-", _mean_accuracy(results))
    console.print(table)
    for method, _startup, _wall, results in rows[1:]:
        failures = [(path.stem, r.status, r.error) for path, r in zip(paths, results) if r.status != "ok"]
        if failures:
            console.print(f"not ok in {method}: {failures}")

    if measured is not None:
        measured, params = measured
        table = Table("generation", "new tokens", "seconds", "tokens/s", "vs one at a time",
                      title=f"random Llama, {params / 1e9:.2f}B parameters, {'bf16' if device.type == 'cuda' else 'fp32'}, "
                            f"{sizes.prompt_tokens}-token prompts ({name})")
        base_rate = measured[0][1] / measured[0][2]
        for mode, tokens, seconds in measured:
            table.add_row(mode, str(tokens), f"{seconds:.1f}", f"{tokens / seconds:.1f}", f"{tokens / seconds / base_rate:.1f}x")
        console.print(table)
    console.print(f"total {time.perf_counter() - begun:.0f} s")


if __name__ == "__main__":
    main()
