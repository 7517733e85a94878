"""Train the bootstrap model's byte-level BPE tokenizer and wrap it as a Hugging Face tokenizer.

    from nngpt_core.llm.bootstrap.tokenizer import train_tokenizer
    tokenizer = train_tokenizer(texts, vocab_size=4096)     # a PreTrainedTokenizerFast
    tokenizer.save_pretrained("models/bootstrap")

Byte-level: every byte sequence is encodable, so generated code never hits an unknown token.
Runs of spaces get their own merges, which keeps Python indentation cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2):
    """A byte-level BPE tokenizer trained on `texts`, with </s> (end and start) and <pad>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
