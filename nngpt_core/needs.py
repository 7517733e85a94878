"""What a run config needs from the machine, and whether this machine has it: `nngpt doctor --config FILE`.

    from nngpt_core.needs import config_needs, memory_estimate
    for need in config_needs(cfg):
        print(need.what, need.met, need.detail)          # e.g. "bitsandbytes", False, "pip install bitsandbytes"
    estimate = memory_estimate(cfg)                      # GiB for generation, fine-tuning and evaluation, or None

Needs: a CUDA device (model.device, evaluation.device, 4-bit loading or an 8-bit optimizer ask for
one), bitsandbytes (4-bit loading, 8-bit optimizers), the model's weights on disk (a directory or
the Hugging Face cache; nothing is downloaded), the dataset's files, the original SFT pairs and the
prompt template, and enough GPU memory for the estimate. The estimate is coarse on purpose: the
model's parameters are counted exactly (an empty model built on the meta device from its
config.json), the rest follows the usual rules of thumb (KV cache of a generation batch over the
whole context, LoRA with AdamW states, activations of one SFT batch, fp32 logits for the loss,
and per evaluation worker a CUDA context, the resident dataset and a candidate's working memory).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from nngpt_core.config import RunConfig

GIB = 2**30
CUDA_CONTEXT_GIB = 0.6  # what one process's CUDA context and library handles take on a current GPU
CANDIDATE_WORKING_GIB = 2.0  # a one-epoch candidate at batch 16 on 256-pixel images, with its activations
QUANTISED_BYTES_PER_PARAM = 0.53  # NF4: 4 bits plus block-wise constants
LORA_BYTES_PER_PARAM = 16  # bf16 weight and gradient, fp32 AdamW moments (8-bit optimizers take less)


@dataclass(frozen=True)
class Need:
    """One thing the config needs: what, which setting asks for it, whether it is here, and the detail."""

    what: str
    why: str
    met: bool
    detail: str


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory, GiB, of each stage of a cycle (they run one after another) and their maximum."""

    parameters: int
    generation_gib: float
    finetuning_gib: float
    evaluation_gib: float

    @property
    def peak_gib(self) -> float:
        return max(self.generation_gib, self.finetuning_gib, self.evaluation_gib)


def _wants_cuda(cfg: RunConfig) -> list[str]:
    reasons = []
    if cfg.model.device.startswith("cuda"):
        reasons.append(f"model.device: {cfg.model.device}")
    if cfg.model.load_in_4bit:
        reasons.append("model.load_in_4bit")
    if "8bit" in cfg.sft.optimizer:
        reasons.append(f"sft.optimizer: {cfg.sft.optimizer}")
    if cfg.evaluation.on_cuda:
        reasons.append(f"evaluation.device: {cfg.evaluation.device}")
    return reasons


def _cuda() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, "torch sees no CUDA device (torch.cuda.is_available() is False)"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return True, f"CUDA {torch.version.cuda}: {names}"


def _free_gpu_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free / GIB


def model_files(name_or_path: str) -> Path | None:
    """The local directory holding the model's config and weights (a path, or the HF cache), or None."""
    from nngpt_core.llm.loading import resolve_model_path

    resolved = Path(resolve_model_path(name_or_path))
    if (resolved / "config.json").is_file():
        directory = resolved
    else:
        try:
            from huggingface_hub import snapshot_download

            directory = Path(snapshot_download(name_or_path, local_files_only=True))
        except Exception:  # not in the cache, or not a valid repository id: either way not on disk
            return None
    has_weights = any(directory.glob("*.safetensors")) or any(directory.glob("*.bin"))
    return directory if has_weights and (directory / "config.json").is_file() else None


def count_parameters(directory: Path) -> tuple[int, object]:
    """(parameters, config) of the model in `directory`, built empty on the meta device (no memory, no weights read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(directory, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(parameter.numel() for parameter in model.parameters()), config


def memory_estimate(cfg: RunConfig) -> MemoryEstimate | None:
    """The GPU memory a cycle of `cfg` needs (None when the model is not on disk to count)."""
    directory = model_files(cfg.model.name_or_path)
    if directory is None:
        return None
    parameters, config = count_parameters(directory)
    text = getattr(config, "get_text_config", lambda: config)()
    hidden = text.hidden_size
    layers = text.num_hidden_layers
    heads = text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    vocab = text.vocab_size
    context = min(cfg.model.max_context or text.max_position_embeddings, text.max_position_embeddings)
    embeddings = vocab * hidden * (1 if getattr(text, "tie_word_embeddings", False) else 2)
    dtype_bytes = 4 if cfg.model.dtype == "float32" else 2
    if cfg.model.load_in_4bit:
        weights = (parameters - embeddings) * QUANTISED_BYTES_PER_PARAM + embeddings * 2
    else:
        weights = parameters * dtype_bytes
    head_dim = hidden // heads
    kv_cache = 2 * layers * kv_heads * head_dim * 2 * context * cfg.generation.batch_size
    sequence = min(cfg.sft.max_seq_length, context) * cfg.sft.batch_size
    lora = cfg.sft.r * 2 * hidden * 7 * layers  # rank x (in + out) over the seven projections of a layer
    activations = sequence * hidden * layers * (2 if cfg.sft.gradient_checkpointing else 20) * 2
    logits = sequence * vocab * 4
    evaluation = 0.0
    if cfg.evaluation.on_cuda:
        evaluation = cfg.evaluation.workers * (CUDA_CONTEXT_GIB + CANDIDATE_WORKING_GIB + _dataset_gib(cfg))
    return MemoryEstimate(
        parameters=parameters,
        generation_gib=(weights + kv_cache) / GIB + CUDA_CONTEXT_GIB,
        finetuning_gib=(weights + lora * LORA_BYTES_PER_PARAM + activations + logits) / GIB + CUDA_CONTEXT_GIB,
        evaluation_gib=evaluation,
    )


FULL_SIZES = {"cifar10": (50_000, 10_000), "cifar100": (50_000, 10_000), "svhn": (73_257, 26_032),
              "mnist": (60_000, 10_000), "fashionmnist": (60_000, 10_000)}  # train, test images (the registry's)


def _dataset_gib(cfg: RunConfig) -> float:
    """The float32 images a resident evaluation process keeps on the GPU (train and test)."""
    from nngpt_core.data.registry import get_spec

    spec = get_spec(cfg.evaluation.dataset)
    train, test = FULL_SIZES.get(spec.name, (1_437, 360))
    train, test = min(train, cfg.evaluation.train_subset or train), min(test, cfg.evaluation.test_subset or test)
    return (train + test) * math.prod(spec.in_shape) * 4 / GIB


def config_needs(cfg: RunConfig) -> list[Need]:
    """Everything `cfg` needs from this machine, each with whether it is here (nothing is downloaded or started)."""
    from nngpt_core.data.registry import get_spec
    from nngpt_core.llm.prompts import PromptTemplate

    needs: list[Need] = []
    cuda_reasons = _wants_cuda(cfg)
    if cuda_reasons:
        present, detail = _cuda()
        needs.append(Need("CUDA device", ", ".join(cuda_reasons), present, detail))
    if cfg.model.load_in_4bit or "8bit" in cfg.sft.optimizer:
        why = "model.load_in_4bit" if cfg.model.load_in_4bit else f"sft.optimizer: {cfg.sft.optimizer}"
        installed = importlib.util.find_spec("bitsandbytes") is not None
        needs.append(Need("bitsandbytes", why, installed, "installed" if installed else "not installed: pip install bitsandbytes"))
    directory = model_files(cfg.model.name_or_path)
    needs.append(Need(
        f"model {cfg.model.name_or_path}", "model.name_or_path", directory is not None,
        str(directory) if directory else "config and weights not on disk: `hf download "
        f"{cfg.model.name_or_path}` once with network access, or point model.name_or_path at a saved model",
    ))
    spec = get_spec(cfg.evaluation.dataset)
    present = spec.is_present(cfg.evaluation.data_dir)
    needs.append(Need(
        f"dataset {spec.name}", "evaluation.dataset", present or cfg.evaluation.download,
        spec.layout(cfg.evaluation.data_dir) + ("" if present else
                                                 " (missing; evaluation.download: true fetches it)" if cfg.evaluation.download
                                                 else " (missing; set evaluation.download: true with network access, or put the files there)"),
    ))
    if cfg.sft.original_pairs is not None:
        found = cfg.sft.original_pairs.is_file()
        needs.append(Need("original SFT pairs", "sft.original_pairs", found,
                          str(cfg.sft.original_pairs) + ("" if found else " (missing)")))
    try:
        template = PromptTemplate.load(cfg.generation.prompt_template)
        needs.append(Need("prompt template", "generation.prompt_template", True, template.origin))
    except Exception as exc:  # ConfigError: one line that names the known templates
        needs.append(Need("prompt template", "generation.prompt_template", False, str(exc)))
    if cuda_reasons:
        needs.append(_memory_need(cfg))
    return needs


def _memory_need(cfg: RunConfig) -> Need:
    estimate = memory_estimate(cfg)
    if estimate is None:
        return Need("GPU memory", "model, generation, sft, evaluation", False, "unknown until the model is on disk")
    free = _free_gpu_gib()
    stages = (f"{estimate.parameters / 1e9:.2f}B parameters; generation {estimate.generation_gib:.1f}, "
              f"fine-tuning {estimate.finetuning_gib:.1f}, evaluation {estimate.evaluation_gib:.1f} GiB")
    if free is None:
        return Need("GPU memory", "model, generation, sft, evaluation", False, f"~{estimate.peak_gib:.1f} GiB peak, no GPU ({stages})")
    enough = free >= estimate.peak_gib
    return Need("GPU memory", "model, generation, sft, evaluation", enough,
                f"~{estimate.peak_gib:.1f} GiB peak, {free:.1f} GiB free ({stages})")
