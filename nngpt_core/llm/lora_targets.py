"""Which modules LoRA wraps: the configured names, or every attention and MLP projection of the model's family.

    from nngpt_core.llm.lora_targets import lora_target_modules
    lora_target_modules(model, cfg.sft)    # e.g. ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']

With `sft.target_modules: auto` the names come from the model's `config.model_type` (Llama,
DeepSeek-Coder, Mistral, Qwen2, Gemma, StarCoder2, GPT-2, GPT-NeoX, Phi, ...); a family not in the
table gets every linear layer but the output head. Every name must exist in the model, or the
error names what does (one line), so a typo never trains nothing. `sft.lm_head` trains the output
head too, in full (peft's modules_to_save): trl's SFT trainer computes the loss straight from
`lm_head.weight`, so it refuses a low-rank adapter there, which would never be trained.
"""

from __future__ import annotations

from torch import nn

from nngpt_core.config import SFTConfig
from nngpt_core.errors import NngptError

LLAMA_STYLE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
FAMILY_TARGETS: dict[str, tuple[str, ...]] = {
    **{family: LLAMA_STYLE for family in ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma", "gemma2",
                                          "gemma3_text", "olmo", "olmo2", "granite", "cohere", "deepseek_v3")},
    "starcoder2": ("q_proj", "k_proj", "v_proj", "o_proj", "c_fc", "c_proj"),
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "gpt_bigcode": ("c_attn", "c_proj", "c_fc"),
    "gpt_neox": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "falcon": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "codegen": ("qkv_proj", "out_proj", "fc_in", "fc_out"),
}
OUTPUT_HEAD = "lm_head"


def _linear_names(model: nn.Module) -> list[str]:
    """The last name component of every linear layer (GPT-2's Conv1D is one too), in order of first appearance."""
    names: dict[str, None] = {}
    for qualified, module in model.named_modules():
        if isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D":
            names.setdefault(qualified.rsplit(".", 1)[-1], None)
    return list(names)


def lora_target_modules(model: nn.Module, sft: SFTConfig) -> list[str]:
    """The module names LoRA wraps in `model` under `sft` (NngptError, one line, for names the model lacks)."""
    present = _linear_names(model)
    if sft.target_modules == "auto":
        family = getattr(getattr(model, "config", None), "model_type", None)
        chosen = list(FAMILY_TARGETS.get(family, [name for name in present if name != OUTPUT_HEAD]))
    else:
        chosen = list(sft.target_modules)
    missing = [name for name in chosen if name not in present]
    if missing:
        raise NngptError(f"sft.target_modules: {', '.join(missing)} not in the model (its linear layers: {', '.join(present)})")
    return chosen


def fully_trained_modules(model: nn.Module, sft: SFTConfig) -> list[str]:
    """Modules trained in full beside the adapter: the output head when `sft.lm_head` asks for it."""
    if not sft.lm_head:
        return []
    if OUTPUT_HEAD not in _linear_names(model):
        raise NngptError(f"sft.lm_head: the model has no '{OUTPUT_HEAD}' layer")
    return [OUTPUT_HEAD]
