"""Tiny, randomly initialised code LLMs of the real classes, saved like Hugging Face checkpoints.

    path = save_tiny_model(tmp_path / "tiny-llama-instruct", "llama")     # LlamaForCausalLM + chat template
    path = save_tiny_model(tmp_path / "tiny-qwen2-instruct", "qwen2")     # Qwen2ForCausalLM + ChatML template

They stand in for DeepSeek-Coder (Llama architecture, a tokenizer that adds BOS and a chat template
that writes it too) and Qwen2.5-Coder (Qwen2 architecture, no BOS, ChatML with <|im_end|> as the
end of an instruct turn) so that every code path a real model takes runs on the CPU in seconds:
loading, chat templates, generation, LoRA target detection, SFT. Their weights are random, so what
they generate is noise; the tests check the paths, not the text.
"""

from __future__ import annotations

from pathlib import Path

from nngpt_core.corpus import seed_sources

LLAMA_CHAT = (
    "{{ bos_token }}{% for message in messages %}### Instruction:\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}"
)
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(family: str, vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on the seed corpus, with the family's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "</s>", "<pad>"] if family == "llama" else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([code for _, code in seed_sources()[:12]], trainer=trainer)
    if family == "llama":  # adds <s> in front of every text, as Llama and DeepSeek-Coder tokenizers do
        tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
        return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                       chat_template=LLAMA_CHAT, clean_up_tokenization_spaces=False)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHATML, clean_up_tokenization_spaces=False)


def save_tiny_model(out: Path, family: str, chat_template: bool = True, layers: int = 2) -> Path:
    """A tiny random `family` (llama | qwen2 | gpt2) model and its tokenizer, saved to `out`."""
    import torch
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tokenizer = _tokenizer("qwen2" if family == "gpt2" else family)
    if not chat_template:
        tokenizer.chat_template = None
    size = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096)
    if family == "llama":
        model = LlamaForCausalLM(LlamaConfig(**size, bos_token_id=0, eos_token_id=1, pad_token_id=2))
    elif family == "qwen2":
        end_of_turn, end_of_text = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
        model = Qwen2ForCausalLM(Qwen2Config(**size, eos_token_id=end_of_turn, pad_token_id=end_of_text))
        model.generation_config = GenerationConfig(eos_token_id=[end_of_turn, end_of_text], pad_token_id=end_of_text)
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=layers, n_head=4, n_positions=4096))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
