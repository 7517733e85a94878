"""Load a causal LM and its tokenizer from a local path or a Hugging Face id, never reaching the hub offline.

    from nngpt_core.llm.loading import load_model
    loaded = load_model(cfg.model)                       # the base model
    loaded = load_model(cfg.model, adapter_paths=[...])  # with LoRA adapters merged in, oldest first

Device and dtype come from config (auto: CUDA with bfloat16 when present, else CPU with float32).
4-bit loading (bitsandbytes NF4, the paper's) needs CUDA and bitsandbytes and says so in one line
otherwise; adapters on a 4-bit base are applied unmerged (merging would re-quantise them). The
loaded model knows whether its prompts go through the chat template (nngpt_core.llm.prompt_format)
and how many tokens of context it may use (`model.max_context`, else its position embeddings). With
`local_files_only` (the default) a model that is neither a directory nor in the HF cache fails with
one line that says how to make it available. The default `models/bootstrap` is also found relative
to the repository when the working directory is elsewhere.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nngpt_core.config import ModelConfig
from nngpt_core.errors import ConfigError, NngptError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LoadedModel:
    """A model ready to sample from, its tokenizer, and where it came from."""

    model: torch.nn.Module
    tokenizer: object
    name_or_path: str
    device: torch.device
    adapter_paths: list[str] = field(default_factory=list)
    chat: bool = False  # prompts go through the tokenizer's chat template
    max_context: int | None = None  # tokens of prompt plus completion; None = unknown

    @property
    def quantized(self) -> bool:
        return bool(getattr(self.model, "is_loaded_in_4bit", False) or getattr(self.model, "is_loaded_in_8bit", False))


def resolve_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"model.device: unknown device '{spec}' (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"model.device: '{spec}' requested but CUDA is not available on this machine (use cpu or auto)")
    return device


def resolve_dtype(spec: str, device: torch.device) -> torch.dtype:
    if spec == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, spec)


def resolve_model_path(name_or_path: str) -> str:
    """A directory when `name_or_path` names one (here or in the repository), else the hub id unchanged."""
    for candidate in (Path(name_or_path).expanduser(), REPO_ROOT / name_or_path):
        if (candidate / "config.json").is_file():
            return str(candidate)
    return name_or_path


def _offline_hint(name: str) -> str:
    if Path(name).is_absolute() or name.startswith((".", "~")) or Path(name).exists():
        return (f"model '{name}' is not a loadable model directory (no config.json and weights); "
                "run `nngpt bootstrap --out DIR` or point model.name_or_path at a saved Hugging Face model")
    return (f"model '{name}' is not available offline: download it once with network access "
            f"(`hf download {name}`) or set model.name_or_path to a local model directory")


def _quantization(cfg: ModelConfig, device: torch.device):
    if not cfg.load_in_4bit:
        return None
    if device.type != "cuda":
        raise ConfigError("model.load_in_4bit: 4-bit loading needs a CUDA device (set model.load_in_4bit: false on CPU)")
    try:
        import bitsandbytes  # noqa: F401  (only checks that it is installed)
    except ImportError:
        raise ConfigError("model.load_in_4bit: bitsandbytes is not installed (pip install bitsandbytes)") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
                              bnb_4bit_use_double_quant=cfg.bnb_4bit_double_quant, bnb_4bit_compute_dtype=torch.bfloat16)


def load_tokenizer(path: str, local_files_only: bool = True):
    """The tokenizer with a pad token and left padding (decoder-only batched generation)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_files_only)
    except (OSError, ValueError):
        raise NngptError(_offline_hint(path)) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_base(cfg: ModelConfig):
    """The base model (no adapters), its resolved path and device."""
    from transformers import AutoModelForCausalLM

    if cfg.local_files_only:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = resolve_model_path(cfg.name_or_path)
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    quantization = _quantization(cfg, device)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=dtype,
            local_files_only=cfg.local_files_only,
            quantization_config=quantization,
            device_map={"": device} if quantization else None,
        )
    except (OSError, ValueError):
        raise NngptError(_offline_hint(path)) from None
    if quantization is None:
        model.to(device)
    return model, path, device


def check_adapter(adapter_path: str) -> None:
    if not (Path(adapter_path) / "adapter_config.json").is_file():
        raise NngptError(f"adapter directory '{adapter_path}' is missing or incomplete; refusing to load without it")


def merge_adapters(model, adapter_paths: list[str], quantized: bool = False):
    """`model` with each LoRA adapter merged into its weights in order (oldest first).

    A quantised base keeps its one adapter unmerged; a stack of several needs a full-precision base.
    """
    from peft import PeftModel

    if quantized and len(adapter_paths) > 1:
        raise ConfigError("model.load_in_4bit: a 4-bit base takes one adapter, not a stack of "
                          f"{len(adapter_paths)}; train with sft.chaining: continue")
    for adapter_path in adapter_paths:
        check_adapter(adapter_path)
    if quantized and adapter_paths:
        return PeftModel.from_pretrained(model, adapter_paths[0])
    for adapter_path in adapter_paths:
        model = PeftModel.from_pretrained(model, adapter_path).merge_and_unload()
    return model


def load_model(cfg: ModelConfig, adapter_paths: list[str] | None = None) -> LoadedModel:
    """The base model with every adapter of `adapter_paths` merged in, in eval mode, and its tokenizer."""
    from nngpt_core.llm.prompt_format import wants_chat_template

    model, path, device = load_base(cfg)
    model = merge_adapters(model, list(adapter_paths or []), quantized=cfg.load_in_4bit)
    model.eval()
    tokenizer = load_tokenizer(path, cfg.local_files_only)
    chat = wants_chat_template(tokenizer, cfg)
    context = cfg.max_context or getattr(model.config, "max_position_embeddings", None)
    log.info("loaded %s on %s (%s), %d adapter(s), %s prompts", path, device, next(model.parameters()).dtype,
             len(adapter_paths or []), "chat-template" if chat else "plain")
    return LoadedModel(model, tokenizer, path, device, list(adapter_paths or []), chat, context)


def ensure_model_available(cfg: ModelConfig) -> str:
    """The model's resolved path, or NngptError (one line, what to do) when it cannot load offline."""
    from transformers import AutoConfig

    path = resolve_model_path(cfg.name_or_path)
    try:
        AutoConfig.from_pretrained(path, local_files_only=cfg.local_files_only)
    except (OSError, ValueError):
        raise NngptError(_offline_hint(cfg.name_or_path)) from None
    return path
