"""Helpers of the closed-loop tests: a deterministic tiny code LLM (the echo model) and a tiny run config.

The echo model is a real LlamaForCausalLM with a byte-level BPE tokenizer, trained from scratch by the
bootstrap training loop (nngpt_core.llm.bootstrap) on a few dozen prompt/completion pairs until it has
memorized short, valid architectures:

- asked to vary a hand-written seed (the reference pool of a fresh store), it writes ECHO_A, an MLP
  whose hidden width depends on the seed (so one cycle holds several distinct architectures);
- asked to vary ECHO_A (the only corpus architecture once cycle 0 admitted it), it writes ECHO_B (a CNN).

So with greedy sampling (top_k 1) a 2-cycle run admits an ECHO_A in cycle 0 (novel: a fresh store holds
no corpus; the other widths are its near-duplicates), trains an adapter on it, and cycle 1 generates with that adapter and admits ECHO_B. Generation,
evaluation, novelty and SFT all run for real; only the model is small enough to train in seconds.

Its context (max_position_embeddings) is short on purpose: generation only draws references whose
prompt leaves room for half of max_new_tokens, so the long seeds drop out of the pool, and the model
is trained on exactly the seeds that stay in it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from nngpt_core.store.models import Architecture, Candidate, Cycle, Run, SftExample

WIDTHS = (32, 48, 64, 96)


def echo_a(width: int) -> str:
    """The MLP the echo model writes when asked to vary a seed; its hidden width depends on the seed."""
    return ECHO_A_TEMPLATE.replace("WIDTH", str(width))


ECHO_A_TEMPLATE = '''import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        size = in_shape[1] * in_shape[2] * in_shape[3]
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(size, WIDTH), nn.ReLU(), nn.Linear(WIDTH, out_shape[0]))

    def forward(self, x):
        return self.body(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            self.optimizer.step()
'''
ECHO_A = tuple(echo_a(width) for width in WIDTHS)  # every variant

ECHO_B = '''import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        self.conv = nn.Conv2d(in_shape[1], 16, 3, padding=1)
        self.norm = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveMaxPool2d(2)
        self.fc = nn.Linear(64, out_shape[0])

    def forward(self, x):
        x = self.pool(torch.relu(self.norm(self.conv(x))))
        return self.fc(x.flatten(1))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            self.optimizer.step()
'''

DATASET = "digits"
CONTEXT = 1300          # the echo model's max_position_embeddings
MAX_NEW_TOKENS = 640    # > 2x the longest completion: every reference that fits at generation time was trained on
ECHO_STEPS = 150
# names a stored architecture gets in prompts (prepare names them r<run>c<cycle>n<candidate>)
ARCHITECTURE_NAMES = [f"r{run}c{cycle}n{n}" for run in (1, 2) for cycle in (0, 1) for n in range(4)]


def _task():
    from nngpt_core.config import GenerationConfig
    from nngpt_core.llm.prompts import TaskSpec

    return TaskSpec.for_dataset(DATASET, GenerationConfig().param_budget)


def pool_seeds(tokenizer=None) -> list[tuple[str, str]]:
    """The seeds generation can use as references: those whose prompt leaves room for MAX_NEW_TOKENS // 2
    (all of them without a tokenizer)."""
    from nngpt_core.corpus import seed_sources
    from nngpt_core.llm.prompts import PromptTemplate, Reference

    template, task = PromptTemplate.load("default"), _task()
    budget = CONTEXT - MAX_NEW_TOKENS // 2
    return [(name, code) for name, code in seed_sources() if tokenizer is None
            or len(tokenizer(template.prompt(task, [Reference(name, code)]), add_special_tokens=False)["input_ids"]) <= budget]


def seed_widths(tokenizer) -> dict[str, int]:
    """The hidden width of the ECHO_A variant the echo model writes for each seed of the reference pool."""
    return {name: WIDTHS[i % len(WIDTHS)] for i, (name, _) in enumerate(pool_seeds(tokenizer))}


def echo_pairs(tokenizer=None) -> list[dict[str, str]]:
    """The training pairs: seed -> an ECHO_A variant, no reference -> ECHO_A(64), any ECHO_A variant -> ECHO_B."""
    from nngpt_core.llm.prompts import PromptTemplate, Reference

    template, task = PromptTemplate.load("default"), _task()
    seeds = pool_seeds(tokenizer)
    pairs = [template.pair(task, [Reference(name, code)], echo_a(WIDTHS[i % len(WIDTHS)]))
             for i, (name, code) in enumerate(seeds)]
    pairs.append(template.pair(task, [], echo_a(64)))
    pairs += [template.pair(task, [Reference(name, echo_a(WIDTHS[i % len(WIDTHS)]))], ECHO_B)
              for i, name in enumerate(ARCHITECTURE_NAMES)]
    return pairs


def train_echo_model(out: Path, steps: int = ECHO_STEPS) -> Path:
    """Train and save the echo model (Hugging Face format) to `out`; returns `out`."""
    import torch
    from rich.console import Console

    from nngpt_core.corpus.training import TrainingCorpus, TrainingFile
    from nngpt_core.llm.bootstrap import BootstrapResult, save
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings
    from nngpt_core.llm.bootstrap.tokenizer import train_tokenizer
    from nngpt_core.llm.bootstrap.train import build_model, encode_examples, train_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = BootstrapSettings.quick(
        out=out, vocab_size=600, hidden_size=64, layers=2, heads=2, intermediate_size=176, max_length=CONTEXT,
        steps=steps, learning_rate=2e-2, warmup_steps=5, batch_tokens=4096, holdout_share=0.0,
        threads=1, minutes=10,
    )
    tokenizer = train_tokenizer((p["prompt"] + p["completion"] for p in echo_pairs()), settings.vocab_size)
    pairs = echo_pairs(tokenizer)
    train, holdout = encode_examples(tokenizer, pairs, settings)
    assert len(train) == len(pairs), "every echo pair must fit the context"
    model = build_model(settings, tokenizer)
    threads = torch.get_num_threads()
    try:
        history = train_model(model, train, holdout, settings, tokenizer.pad_token_id, Console(quiet=True))
    finally:
        torch.set_num_threads(threads)
    # what it was trained on: the seeds of its prompts, and the ECHO_A variants and ECHO_B it writes
    corpus = TrainingCorpus([*(TrainingFile(name, "seed", code) for name, code in pool_seeds(tokenizer)),
                             *(TrainingFile(f"echo_a_{i}", "synthetic", code) for i, code in enumerate(ECHO_A)),
                             TrainingFile("echo_b", "synthetic", ECHO_B)], {"echo": True})
    result = BootstrapResult(out, sum(p.numel() for p in model.parameters()), len(corpus.files), len(train),
                             corpus.sha256, history)
    save(model, tokenizer, settings, result)
    corpus.save(out)
    check_echo_model(out)
    return out


def check_echo_model(path: Path) -> None:
    """Fail early, with a clear message, when the echo model has not memorized what the loop tests rely on."""
    from nngpt_core.config import GenerationConfig, ModelConfig
    from nngpt_core.llm.candidates import generate_candidates
    from nngpt_core.llm.loading import load_model
    from nngpt_core.llm.modes import full_plan
    from nngpt_core.llm.prompts import Reference

    loaded = load_model(ModelConfig(name_or_path=str(path), device="cpu"))
    generation = GenerationConfig(**run_config(path, path)["generation"])
    widths = seed_widths(loaded.tokenizer)
    cases = [(Reference(name, code), echo_a(widths[name]), f"ECHO_A({widths[name]}) for the seed {name}")
             for name, code in pool_seeds(loaded.tokenizer)]
    cases += [(Reference("r1c0n0", echo_a(width), 1), ECHO_B, f"ECHO_B for ECHO_A({width})") for width in WIDTHS]
    for reference, expected, label in cases:
        generated, _ = generate_candidates(loaded, generation, _task(), [full_plan([reference])], seed=0)
        assert generated[0].code == expected, f"the echo model did not write {label}:\n{generated[0].completion[:600]}"


def run_config(model: Path, data_dir: Path, url: str | None = None, **overrides) -> dict:
    """A tiny 2-cycle run on digits with the echo model (a dict, as a YAML file would hold it)."""
    config = {
        "name": "loop-test",
        "seed": 0,
        "cycles": 2,
        "model": {"name_or_path": str(model), "device": "cpu"},
        "generation": {"candidates_per_cycle": 4, "batch_size": 4, "max_new_tokens": MAX_NEW_TOKENS,
                       "temperature": 0.2, "top_k": 1, "modes": {"full": 1.0}},
        "evaluation": {"dataset": DATASET, "workers": 1, "timeout_s": 60},
        "selection": {"min_examples": 1},
        "sft": {"epochs": 1.0, "batch_size": 2, "max_seq_length": CONTEXT},
        # the echo model memorized prompts over a store without seeds (see above): keep it so
        "store": {"data_dir": str(data_dir), "import_training_corpus": False, **({"url": url} if url else {})},
        "orchestration": {"shard_size": 2},
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class LoopProcess:
    """`nngpt run ...` in its own process group, its output in a file, as a user would start it."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]):
        import subprocess
        import sys

        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nngpt_cli.main", *args], stdout=self.handle, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI, its Prefect server, the evaluator's pool)."""
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self.handle.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.kill()
            self.handle.close()

    def wait_until(self, predicate, timeout: float, what: str, every: float = 0.1):
        """Poll `predicate()` until it returns something truthy; fail when the process ends first or time runs out."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"`nngpt run` ended (exit {self.process.returncode}) before {what}:\n{self.output()[-3000:]}")
            time.sleep(every)
        self.kill()
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")


def loop_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `nngpt run` subprocess: its own PREFECT_HOME and temporary directory, one thread."""
    prefect_home, scratch = tmp_path / "prefect", tmp_path / "tmp"
    prefect_home.mkdir(exist_ok=True)
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "TMPDIR": str(scratch), "OMP_NUM_THREADS": "1"}
    for key in ("PREFECT_API_URL", "NNGPT_DATABASE_URL", "NNGPT_DATA_DIR"):
        env.pop(key, None)
    return env


COUNTED = ("generated", "ok", "valid_rate", "mean_accuracy", "share_above", "novel_admitted", "sft_examples",
           "memorized", "repeated", "novel_valid", "paper_novel_valid")


def recount(session, run: Run, cycle: Cycle) -> dict:
    """A cycle's metrics counted here, straight from the candidates and sft_examples tables."""
    rows = session.execute(select(Candidate.status, Candidate.accuracy, Candidate.admitted, Candidate.novelty,
                                  Candidate.similar_to_id, Candidate.paper_similarity)
                           .where(Candidate.cycle_id == cycle.id)).all()
    ok = [row.accuracy for row in rows if row.status == "ok"]
    # the class of an ok candidate, recounted from its verdict and the origin of what it copies
    origins = dict(session.execute(select(Architecture.id, Architecture.origin)).all())
    classes = [("novel" if row.novelty == "novel" else "repeated" if origins[row.similar_to_id] == "generated"
                else "memorized") for row in rows if row.status == "ok"]
    return {
        "generated": len(rows),
        "ok": len(ok),
        "valid_rate": len(ok) / len(rows),
        "mean_accuracy": sum(ok) / len(ok) if ok else None,
        "share_above": sum(a >= run.share_threshold for a in ok) / len(ok) if ok else None,
        "novel_admitted": sum(1 for row in rows if row.admitted),
        "sft_examples": session.scalar(select(func.count()).select_from(SftExample).where(SftExample.cycle_id == cycle.id)),
        "memorized": classes.count("memorized"),
        "repeated": classes.count("repeated"),
        "novel_valid": classes.count("novel"),
        "paper_novel_valid": sum(1 for row in rows if row.status == "ok" and row.paper_similarity < 0.9),
    }


def same(a: dict, b: dict) -> bool:
    return all(b[k] == pytest.approx(a[k]) if a[k] is not None else b[k] is None for k in COUNTED)
