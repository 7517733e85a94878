"""How a template prompt becomes the text a particular model reads: chat template or plain, and the code prefix.

    from nngpt_core.llm.prompt_format import PromptFormat
    fmt = PromptFormat.for_model(tokenizer, cfg.model, cfg.generation)
    text = fmt.generation_prompt(prompt)      # what the model continues (ends with the code prefix, if any)
    code = fmt.completion(generated)          # the prefix back in front of what it generated
    pair = fmt.sft_pair({"prompt": ..., "completion": ...})   # the same rendering for fine-tuning

The store keeps the template prompt (nngpt_core.llm.prompts); the rendering happens here, at the
model's boundary, in `generate.sample` and in SFT, so a model is fine-tuned on exactly the text it
is prompted with. Instruct models get their chat template: the template prompt up to its final
opening code fence is the user's message, and the assistant's answer starts with that fence.
Base models get the prompt as it is. `model.prompt_format: auto` picks the chat template when the
tokenizer has one and the model's name says instruct or chat. With a code prefix (the paper's:
imports and `supported_hyperparameters()`), decoding starts after it, so every completion has them.
The tokenizer's own beginning-of-sequence token is never doubled: text is tokenized as trl's SFT
trainer does (special tokens added by the tokenizer), and a chat template's leading BOS text is
dropped when the tokenizer adds one itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nngpt_core.config import GenerationConfig, ModelConfig
from nngpt_core.errors import ConfigError

# The paper's decoding prefix: what every LEMUR architecture file starts with.
LEMUR_CODE_PREFIX = '''import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}
'''
_INSTRUCT_NAME = re.compile(r"instruct|[-_]chat|[-_]it\b", re.I)
_OPENING_FENCE = re.compile(r"```[A-Za-z0-9_+-]*\n$")


def code_prefix_text(gen: GenerationConfig) -> str:
    """The configured code prefix: '' for none, the built-in one for 'lemur', else the text itself."""
    if gen.code_prefix is None:
        return ""
    text = LEMUR_CODE_PREFIX if gen.code_prefix == "lemur" else gen.code_prefix
    return text if text.endswith("\n") else text + "\n"


def wants_chat_template(tokenizer, model: ModelConfig) -> bool:
    """Whether prompts for this model go through its chat template (ConfigError when asked for one it lacks)."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if model.prompt_format == "chat" and not has_template:
        raise ConfigError(f"model.prompt_format: chat, but the tokenizer of '{model.name_or_path}' has no chat template "
                          "(use plain for a base model)")
    if model.prompt_format == "auto":
        return has_template and bool(_INSTRUCT_NAME.search(model.name_or_path))
    return model.prompt_format == "chat"


def adds_bos(tokenizer) -> bool:
    """Whether the tokenizer puts its BOS token in front of plain text by itself."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("x")["input_ids"]
    return bool(ids) and ids[0] == bos


@dataclass(frozen=True)
class PromptFormat:
    """The rendering of prompts for one model: chat template or not, and the decoding prefix."""

    tokenizer: object
    chat: bool = False
    code_prefix: str = ""

    @classmethod
    def for_model(cls, tokenizer, model: ModelConfig, gen: GenerationConfig | None = None) -> PromptFormat:
        return cls(tokenizer, wants_chat_template(tokenizer, model), code_prefix_text(gen) if gen is not None else "")

    def _render(self, prompt: str) -> str:
        if not self.chat:
            return prompt
        fence = _OPENING_FENCE.search(prompt)
        request, answer_start = (prompt[: fence.start()], fence.group()) if fence else (prompt, "")
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": request.rstrip("\n")}], tokenize=False, add_generation_prompt=True,
        )
        bos = getattr(self.tokenizer, "bos_token", None)
        if bos and text.startswith(bos) and adds_bos(self.tokenizer):
            text = text[len(bos):]
        return text + answer_start

    def generation_prompt(self, prompt: str) -> str:
        """What the model continues: the rendered prompt, then the code prefix."""
        return self._render(prompt) + self.code_prefix

    def completion(self, generated: str) -> str:
        """The whole completion of a generation: the code prefix the model continued, then what it wrote."""
        return self.code_prefix + generated

    def sft_pair(self, pair: dict[str, str]) -> dict[str, str]:
        """An SFT pair in this model's rendering (the completion is unchanged: code, then the closing fence)."""
        return {"prompt": self._render(pair["prompt"]), "completion": pair["completion"]}

