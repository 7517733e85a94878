"""The one typed configuration tree of a run: `RunConfig`, loadable from YAML.

    from nngpt_core.config import load_config
    cfg = load_config("configs/smoke.yaml")          # or load_config(None) for the defaults
    print(cfg.store.resolved_url(masked=True))

Every field has a default and a one-line description (shown as a form in the Prefect UI: choices
are selects, lists show their defaults, a field that may be empty names both of its forms: `optional`;
the field types and `Section` live in nngpt_core.config_fields).
The database URL may also come from the environment variable NNGPT_DATABASE_URL, which wins
over the file. Invalid input raises ConfigError with one line naming the field and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_serializer, field_validator, model_validator

from nngpt_core.config_fields import (  # noqa: F401 (re-exported: the field types belong to the config)
    DEVICE_PATTERN, Device, SampleCount, Section, field_title, optional,
)
from nngpt_core.data.names import DATASET_NAMES
from nngpt_core.errors import ConfigError
from nngpt_core.sandbox.settings import LAYERS, UNPRIVILEGED_LAYERS

DATABASE_URL_ENV = "NNGPT_DATABASE_URL"
DATA_DIR_ENV = "NNGPT_DATA_DIR"


class ModelConfig(Section):
    name_or_path: str = Field("models/bootstrap", description="Hugging Face model id or local path of the base causal LM.")
    adapter_id: optional(int, "adapter id", "base model") = Field(None, description="Stored adapter to start from (its earlier adapters are applied too); empty = the base model.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Weights dtype; auto = bfloat16 on CUDA, float32 on CPU.")
    device: Device = Field("auto", description="Device for the LM: auto (cuda where the machine has it, else cpu), cpu, cuda or cuda:N.")
    load_in_4bit: bool = Field(False, description="Load the base model in 4-bit with bitsandbytes (CUDA only).")
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit quantisation type of bitsandbytes (the paper: nf4).")
    bnb_4bit_double_quant: bool = Field(False, description="Also quantise the quantisation constants (saves ~0.4 bits per weight).")
    local_files_only: bool = Field(True, description="Never reach for the Hugging Face hub; models must be on disk or in the HF cache.")
    prompt_format: Literal["auto", "chat", "plain"] = Field(
        "auto", description="chat: prompts go through the tokenizer's chat template (instruct models); plain: as written (base models); auto = chat when the tokenizer has a template and the model's name says instruct or chat.",
    )
    max_context: optional(int, "tokens", "model's own", minimum=256) = Field(None, description="Tokens of prompt plus completion the model may use (the paper: 8192); empty = the model's max_position_embeddings.")


class GenerationConfig(Section):
    candidates_per_cycle: int = Field(32, ge=1, description="Completions requested per cycle.")
    batch_size: int = Field(8, ge=1, description="Prompts sampled together in one generate() call.")
    temperature: float = Field(0.3, gt=0, le=5, description="Sampling temperature (0.3 gave the shipped bootstrap model its best valid rate: bench/bootstrap.py).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(50, ge=0, description="Top-k sampling (0 disables it).")
    max_new_tokens: int = Field(1024, ge=16, description="Maximum tokens generated per completion.")
    seed: int = Field(0, description="Sampling seed; each cycle derives its own from it.")
    prompt_template: str = Field("default", description="Prompt template name (a file in nngpt_core/llm/prompts/) or a path.")
    references_per_prompt: int = Field(1, ge=0, le=4, description="Reference architectures retrieved from the store into each full-mode prompt.")
    param_budget: int = Field(2_000_000, ge=1000, description="Parameter budget stated in the prompt.")
    modes: dict[Literal["full", "crossover", "mutation", "delta"], float] = Field(
        default_factory=lambda: {"crossover": 1.0},
        description="Weight of each generation mode (drawn per prompt): full (write a new architecture unlike the references), crossover (the network of one parent with the blocks of another, for family combinations the model was never trained on), mutation (named changes to one parent), delta (a crossover or mutation answered as a unified diff).",
    )
    delta_request: Literal["crossover", "improve"] = Field("crossover", description="What a delta prompt asks for as a diff: a crossover (else a mutation) of parents from the store, or (the delta paper) an improvement of one parent shown with its best recorded accuracy on the run's dataset.")
    novel_requests_only: bool = Field(False, description="Ask for a crossover or mutation only when the operator's own answer to it (the hybrid, the edited file) would be novel against the store: a request whose right answer is a near duplicate can only give one. Candidates are judged as always.")
    attempts: int = Field(1, ge=1, le=10, description="Rejection sampling: times a prompt is sampled until its answer yields code that passes the static check (the paper's pipeline: 5).")
    temperature_step: float = Field(0.1, ge=0, le=1, description="Rejection sampling: temperature added at each further attempt.")
    error_feedback: bool = Field(False, description="Rejection sampling: add why the previous answer was refused to the retried prompt.")
    code_prefix: optional(str, "prefix", "none") = Field(
        None, description="Text every completion starts with: decoding continues after it (lemur = the paper's: imports and supported_hyperparameters()); empty = none.",
    )

    @field_validator("modes")
    @classmethod
    def _check_modes(cls, value: dict[str, float]) -> dict[str, float]:
        if any(weight < 0 for weight in value.values()) or not any(weight > 0 for weight in value.values()):
            raise ValueError("mode weights must be >= 0 with at least one above 0")
        return value


class SandboxConfig(Section):
    require: Annotated[list[str], Field(title="layers")] | Annotated[Literal["all"], Field(title="all")] = Field(
        default_factory=lambda: list(UNPRIVILEGED_LAYERS),
        description="Sandbox layers a candidate must get, else evaluation refuses to start (a list of names from `nngpt doctor`, or all). "
                    "Default: every layer an unprivileged Linux user gets (all but uid-drop and rlimit-processes, which need root); "
                    "all on the pool and dask backends. NNGPT_SANDBOX_REQUIRE on a machine adds to it.",
    )

    @field_validator("require")
    @classmethod
    def _known_layers(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            unknown = sorted(set(value) - set(LAYERS))
            if unknown:
                raise ValueError(f"unknown sandbox layers {', '.join(unknown)} (known: {', '.join(LAYERS)})")
        return value


class EvaluationConfig(Section):
    dataset: Literal[DATASET_NAMES] = Field("digits32", description="Dataset from the registry (docs/datasets.md); digits and digits32 are bundled, the others need their files in data_dir.")
    data_dir: Path = Field(Path("data"), description="Directory holding torchvision datasets.")
    download: bool = Field(False, description="Download missing torchvision datasets when the network allows.")
    epochs: int = Field(1, ge=1, description="Training epochs per candidate (1 = the paper's low-fidelity score).")
    train_subset: SampleCount = Field(None, description="Use only this many training samples (empty = all).")
    test_subset: SampleCount = Field(None, description="Use only this many test samples (empty = all).")
    device: Device = Field("auto", description="Device for candidate training: auto (cuda where the evaluating machine has it, else cpu), cpu, cuda or cuda:N.")
    workers: int = Field(2, ge=1, description="Sandbox processes evaluating candidates in parallel (on a GPU, several share it).")
    worker_mode: Literal["auto", "fork", "resident"] = Field(
        "auto", description="fork: a fresh confined process per candidate; resident: one confined process per worker runs candidates one after another (CUDA initialised and the data uploaded once) and is replaced after any failure; auto = resident on CUDA, fork on the CPU.",
    )
    recycle_after: int = Field(64, ge=1, description="Resident mode: candidates one sandboxed process runs before it is replaced by a fresh one.")
    precision: Literal["auto", "float32", "bfloat16"] = Field("auto", description="Autocast precision of training and prediction; auto = bfloat16 on CUDA, float32 on the CPU.")
    channels_last: Literal["auto", "on", "off"] = Field("auto", description="channels_last memory format for 4-D inputs and the model (a model whose first forward rejects it runs without); auto = on for CUDA.")
    image_size: optional(int, "side", "dataset's own", minimum=4) = Field(None, description="Resize every batch on the device to this square side before the model sees it (LEMUR's norm_256_flip transform: 256); empty = the dataset's own size.")
    timeout_s: float = Field(120.0, gt=0, description="Wall-clock limit per candidate, seconds.")
    memory_limit_mb: int = Field(4096, ge=256, description="Address space a sandboxed candidate may add to the warm worker's baseline (RLIMIT_AS; not on CUDA), MiB.")
    max_params: int = Field(5_000_000, ge=1, description="Parameter budget; larger candidates are too_large.")
    max_flops: int = Field(2_000_000_000, ge=1, description="FLOPs per sample budget; larger candidates are too_large.")
    seed: int = Field(0, description="Seed for weight init, batch order and augmentation.")
    hyperparameters: dict[str, float] = Field(
        default_factory=lambda: {
            "lr": 0.01, "momentum": 0.9, "batch": 32, "dropout": 0.2, "dropout_aux": 0.2, "attention_dropout": 0.1,
            "stochastic_depth_prob": 0.1, "norm_eps": 1e-5, "norm_std": 0.02, "norm_momentum": 0.1,
            "patch_size": 0.125, "weight_decay": 0.0,
        },
        description="Values for known hyperparameter keys (the paper's SGD recipe; batch is the training batch size); unknown keys get neutral_value.",
    )
    neutral_value: float = Field(0.5, ge=0, le=1, description="Value for hyperparameter keys without a documented default.")

    @field_validator("hyperparameters")
    @classmethod
    def _check_batch(cls, value: dict[str, float]) -> dict[str, float]:
        batch = value.get("batch", 32)
        if batch < 1 or batch != int(batch):
            raise ValueError(f"batch must be a whole number of at least 1, got {batch}")
        return value

    augment: bool = Field(False, description="Random crop (and flip where the dataset allows) on training batches.")
    random_flip: bool = Field(False, description="Flip each training image left-right with probability 1/2 whatever the dataset (LEMUR's *_flip transforms, e.g. norm_256_flip with image_size 256).")
    threads: int = Field(1, ge=1, description="Torch threads per sandboxed candidate.")
    max_processes: int = Field(16, ge=2, description="Processes and threads a candidate's sandbox uid may hold (RLIMIT_NPROC).")
    output_limit_kb: int = Field(1024, ge=16, description="stdout+stderr a candidate may write before it is stopped; also its largest file, KiB.")
    scratch_mb: int = Field(64, ge=1, description="Size of a candidate's private scratch tmpfs, MiB.")
    hidden_paths: list[Path] = Field(default_factory=list, description="Host paths made invisible to candidates, besides the data and store directories.")
    allowed_imports: list[str] = Field(
        default_factory=list,
        description="Modules candidates may import beyond the built-in static-check policy (docs/evaluation.md), e.g. ['tqdm']; "
        "each entry admits that module and its public members. Names the policy refuses for a reason (os, subprocess, torch.hub, ...) cannot be added.",
    )
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig, description="What the sandbox must provide.")

    @field_validator("allowed_imports")
    @classmethod
    def _check_allowed_imports(cls, value: list[str]) -> list[str]:
        from nngpt_core.sandbox.policy import extra_import_problem

        problem = next(filter(None, map(extra_import_problem, value)), None)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def on_cuda(self) -> bool:
        """Whether candidates train on CUDA; `auto` is resolved on this machine (nngpt_core.evaluate.device)."""
        device = self.device
        if device == "auto":
            from nngpt_core.evaluate.device import resolve_evaluation_device

            device = resolve_evaluation_device(device)
        return device.startswith("cuda")

    def resolved_worker_mode(self) -> str:
        """fork or resident, with auto decided by the device."""
        return ("resident" if self.on_cuda else "fork") if self.worker_mode == "auto" else self.worker_mode

    def resolved_precision(self) -> str:
        """float32 or bfloat16, with auto decided by the device."""
        return ("bfloat16" if self.on_cuda else "float32") if self.precision == "auto" else self.precision

    def resolved_channels_last(self) -> bool:
        return self.on_cuda if self.channels_last == "auto" else self.channels_last == "on"


class NoveltyConfig(Section):
    shingle_k: int = Field(5, ge=1, le=32, description="Tokens per shingle of the lexical signature.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations (recorded; other settings are refused).")
    seed: int = Field(1, description="MinHash seed (recorded; other settings are refused).")
    lexical_threshold: float = Field(0.7, gt=0, le=1, description="Estimated Jaccard at or above which code is a near-duplicate.")
    structural_threshold: float = Field(0.9, gt=0, le=1, description="Structural Jaccard at or above which an architecture is a near-duplicate.")
    top_k: int = Field(5, ge=1, description="Nearest stored architectures returned by a query.")
    bucket_rows: int = Field(64, ge=1, description="Most architectures a query reads from one LSH bucket; buckets of code shared by very many files are cut to this.")
    lsh_recall_at_threshold: float = Field(0.95, gt=0, lt=1, description="Chance that a stored architecture exactly at the threshold is found by the LSH bands (sets bands x rows at index creation).")


class SelectionConfig(Section):
    min_accuracy: float = Field(0.40, ge=0, le=1, description="First-epoch accuracy an admitted candidate needs to become an SFT example.")
    share_threshold: float = Field(0.40, ge=0, le=1, description="Accuracy threshold of the 'share above' cycle metric.")
    chance_multiplier: float = Field(1.2, ge=1, description="Admission needs accuracy above this multiple of chance.")
    min_examples: int = Field(4, ge=0, description="Top up with the best admitted candidates when fewer than this qualify.")
    top_up_floor: float = Field(0.0, ge=0, le=1, description="Accuracy a top-up candidate needs at least (the paper: 0.35).")
    max_examples: int = Field(64, ge=1, description="At most this many SFT examples per cycle.")
    budget_in_pairs: Annotated[float, Field(gt=0, title="multiple")] | Annotated[None, Field(title="as generated")] = Field(
        None, description="Restate the parameter budget in an SFT pair's prompt as this multiple of the candidate's real "
                                "parameter count (the paper: 1.5), so the model learns what a stated budget means; None keeps the prompt as generated.",
    )


class SFTConfig(Section):
    enabled: bool = Field(True, description="Fine-tune a LoRA adapter on each cycle's selected examples; off keeps the base model every cycle (the ablation that separates fine-tuning from a growing reference pool).")
    r: int = Field(8, ge=1, description="LoRA rank.")
    alpha: int = Field(16, ge=1, description="LoRA alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: Annotated[list[str], Field(title="modules")] | Annotated[Literal["auto"], Field(title="auto")] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        description="Module names LoRA wraps; auto = every attention and MLP projection of the model's architecture family (llm/lora_targets.py).",
    )
    lm_head: bool = Field(False, description="Also train the output projection lm_head (the delta follow-up does), in full beside the adapter: trl computes the loss from lm_head.weight and refuses a LoRA adapter on it.")
    learning_rate: float = Field(2e-4, gt=0, description="Learning rate of the optimizer.")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay of the optimizer (the paper: 0.01).")
    warmup_steps: int = Field(0, ge=0, description="Optimizer steps of linear learning-rate warm-up (the paper: 20).")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field("linear", description="Learning-rate schedule after warm-up (the paper: cosine).")
    optimizer: str = Field("adamw_torch", description="transformers optimizer name, e.g. adamw_torch, or paged_adamw_8bit (bitsandbytes, CUDA; the paper's).")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Batches accumulated per optimizer step (the paper: 8 with batch 1).")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient-norm clip.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less GPU memory for a 7B model, more time.")
    epochs: float = Field(2.0, gt=0, description="Passes over the cycle's SFT examples.")
    batch_size: int = Field(4, ge=1, description="Per-device train batch size.")
    max_seq_length: int = Field(2048, ge=64, description="Longer prompt+completion pairs are truncated.")
    chaining: Literal["stack", "continue"] = Field(
        "stack", description="stack: each cycle trains a fresh adapter on the base with the earlier ones merged in; continue: each cycle keeps training the previous cycle's adapter (the paper's; one adapter on an unmerged, possibly 4-bit, base).",
    )
    cumulative: bool = Field(False, description="Each cycle trains on the original pairs plus every SFT example selected so far in the run (the paper's), not only the cycle's own.")
    original_pairs: Annotated[Path, Field(title="file")] | Annotated[None, Field(title="none")] = Field(None, description="JSONL of prompt/completion pairs every cumulative SFT set starts with (the model's initial fine-tuning set); None = none.")
    output_dir: Path = Field(Path("adapters"), description="Where adapters are saved (relative to the data dir).")


class StoreConfig(Section):
    url: optional(str, "URL", "SQLite in data_dir") = Field(None, description=f"SQLAlchemy URL (sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB); empty = nngpt.db in data_dir. {DATABASE_URL_ENV} overrides it.")
    data_dir: Path = Field(Path(".nngpt"), description=f"Directory for the embedded database, adapters and reports ({DATA_DIR_ENV} overrides it).")
    echo_sql: bool = Field(False, description="Log every SQL statement (debugging).")
    import_training_corpus: bool = Field(True, description="When a run starts, import every architecture the model was trained on (its training corpus; the hand-written seeds for a model without one) unless stored: copies of training examples are then 'memorized', never novel, and prompts draw parents from the seeds.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            validate_database_url(value)
        return value

    @field_serializer("url", when_used="json")
    def _url_without_password(self, value: str | None) -> str | None:
        """As JSON (Prefect parameters, the run's stored config, exports) the password is masked, never written."""
        return None if value is None else mask_url(value)

    def resolved_data_dir(self) -> Path:
        return Path(os.environ.get(DATA_DIR_ENV) or self.data_dir)

    def resolved_url(self, masked: bool = False) -> str:
        url = os.environ.get(DATABASE_URL_ENV) or self.url
        if url:
            validate_database_url(url, source=DATABASE_URL_ENV if os.environ.get(DATABASE_URL_ENV) else "store.url")
            url = without_masked_password(url)
        else:
            url = f"sqlite:///{(self.resolved_data_dir() / 'nngpt.db').resolve()}"
        return mask_url(url) if masked else url


class OrchestrationConfig(Section):
    shard_size: int = Field(8, ge=1, description="Candidates per evaluation shard (one Prefect task or flow run each).")
    device_slots: int = Field(1, ge=1, description="Evaluation shards that may run at once per device (a Prefect concurrency limit).")
    reports_dir: Path = Field(Path("reports"), description="Where run reports and plots go (relative to the data dir).")
    evaluation_backend: Literal["local", "pool", "dask"] = Field(
        "local", description="Where evaluation shards run: local (tasks in this process), pool (flow runs of the evaluate deployment on the work pool), dask (prefect-dask DaskTaskRunner)."
    )
    evaluate_deployment: str = Field("evaluate/evaluate", description="The deployment (FLOW/DEPLOYMENT) the pool backend sends shards to.")
    shard_timeout_s: float = Field(3600.0, gt=0, description="A pool shard's flow run not finished this long after it was started is marked Crashed and run again (within shard_attempts); after the last attempt the cycle fails with a clear message.")
    shard_attempts: int = Field(3, ge=1, description="Times a pool shard whose flow run crashed, failed or passed shard_timeout_s (a dead worker) is run, in all.")
    dask_address: optional(str, "address", "LocalCluster") = Field(None, description="Scheduler address of an existing Dask cluster; empty = a LocalCluster started for the cycle.")
    dask_workers: int = Field(2, ge=1, description="Workers of the LocalCluster the dask backend starts (one thread each).")


class RunConfig(Section):
    name: str = Field("nngpt", description="Run name shown in reports and the Prefect UI.")
    seed: int = Field(0, description="Master seed of the run.")
    cycles: int = Field(3, ge=1, description="Generate-evaluate-filter-admit-fine-tune cycles to run.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The code LLM.")
    generation: GenerationConfig = Field(default_factory=GenerationConfig, description="Sampling.")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="Sandboxed low-fidelity evaluation.")
    novelty: NoveltyConfig = Field(default_factory=NoveltyConfig, description="Near-duplicate filter.")
    selection: SelectionConfig = Field(default_factory=SelectionConfig, description="Admission and SFT example selection.")
    sft: SFTConfig = Field(default_factory=SFTConfig, description="LoRA fine-tuning.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="Results store.")
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig, description="How Prefect runs the stages.")

    @model_validator(mode="after")
    def _remote_evaluation_requires_every_layer(self) -> RunConfig:
        """Shards on other machines (pool, dask) require every sandbox layer unless the config says otherwise."""
        sandbox = self.evaluation.sandbox
        if self.orchestration.evaluation_backend != "local" and "require" not in sandbox.model_fields_set:
            sandbox.require = "all"
        return self


_DRIVERS = ("sqlite", "postgresql")


def validate_database_url(url: str, source: str = "store.url") -> None:
    """Raise ConfigError unless `url` is a SQLAlchemy URL for SQLite or PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"{source}: not a database URL ({type(exc).__name__})") from None
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(f"{source}: unsupported database '{backend}' (use sqlite:/// or postgresql://)")
    if backend == "postgresql" and not parsed.database:
        raise ConfigError(f"{source}: PostgreSQL URL names no database")


MASKED_PASSWORD = "***"


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, safe for logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL may still contain a secret: show nothing of it
        return "<unparsable database URL>"


def without_masked_password(url: str) -> str:
    """A URL whose password was masked (a config that travelled as JSON) without it: libpq then takes the
    password from PGPASSWORD or ~/.pgpass, and NNGPT_DATABASE_URL overrides the whole URL."""
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    if parsed.password != MASKED_PASSWORD:
        return url
    unmasked = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    return unmasked.render_as_string(hide_password=False)


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "<root>"
    problem = first["msg"]
    if "url" in field:  # never echo a URL back: it may hold a password
        return f"{origin}: {field}: {problem.split(':')[0]}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
    return f"{origin}: {field}: {problem}{shown}"


def config_from_dict(data: dict[str, Any] | None, origin: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load a RunConfig from YAML (None = defaults), then apply dotted `overrides` like {"cycles": 2}."""
    data: dict[str, Any] = {}
    origin = "config"
    if path is not None:
        path = Path(path)
        origin = str(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}: invalid YAML{where}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping of sections")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config_from_dict(data, origin)
