"""From-scratch students: a small decoder and a word-level tokenizer trained on the training corpus."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from distill.students.student import Student

SPECIAL = {"pad_token": "[PAD]", "unk_token": "[UNK]", "eos_token": "[EOS]"}
SEPARATOR, DELIMITER = "[SEP]", "[DELIM]"
ARCHITECTURES = ("gpt2", "llama")


def train_tokenizer(corpus: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer (words and punctuation) over the corpus, with our special tokens."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=SPECIAL["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = [SPECIAL["pad_token"], SPECIAL["unk_token"], SEPARATOR, DELIMITER, SPECIAL["eos_token"]]
    tokenizer.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, additional_special_tokens=[SEPARATOR, DELIMITER], **SPECIAL
    )


def build_scratch_student(
    corpus: list[str],
    arch: str,
    n_layer: int,
    d_model: int,
    n_head: int,
    d_ff: int | None,
    max_length: int,
    dropout: float,
    seed: int,
    name: str,
) -> Student:
    """A freshly initialised decoder (``arch``: gpt2 or llama with rotary positions); its sizes come from
    ``conf/student/`` (``small.yaml`` and the sizes that extend it), the one place they are set."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown student arch {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    tokenizer = train_tokenizer(corpus)
    # tokenizers can leave gaps in the ids: size the embedding by the largest id, not the vocab size
    vocab_size = max(tokenizer.get_vocab().values()) + 1
    torch.manual_seed(seed)
    if arch == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_positions=max_length,
            n_embd=d_model,
            n_layer=n_layer,
            n_head=n_head,
            n_inner=d_ff,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=d_model,
            intermediate_size=d_ff or 4 * d_model,
            num_hidden_layers=n_layer,
            num_attention_heads=n_head,
            num_key_value_heads=n_head,
            max_position_embeddings=max_length,
            attention_dropout=dropout,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = LlamaForCausalLM(config)
    return Student(model, tokenizer, separator=SEPARATOR, delimiter=DELIMITER, max_length=max_length, name=name)
