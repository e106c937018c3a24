"""Training speed: our BC training (length-bucketed, padding-free batches) against padding every batch to the
data set's longest episode (the paper's batching) and Transformers' ``Trainer``, on the same model, data and
steps; and the share of the machine's measured matrix-multiply peak that our training reaches."""

from __future__ import annotations

import tempfile
import time

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

from distill.bench.common import best_time, row, train_config
from distill.training.episodes import EpisodeDataModule


def lightning_tokens_per_s(student, items, batch_size: int, steps: int, pad_to: int | None) -> tuple[float, float]:
    """(useful tokens/s, steps/s) of our BC training for ``steps`` steps; ``pad_to`` pads every batch to that
    length (the paper's batching: the data set's longest episode) instead of the batch's longest."""
    useful = {"tokens": 0}

    class Counted(EpisodeDataModule):
        def train_dataloader(self):
            loader = super().train_dataloader()
            inner = loader.collate_fn

            def count(batch_items):
                batch = inner(batch_items)
                useful["tokens"] += int(batch["attention_mask"].sum())
                if pad_to is not None:
                    extra = pad_to - batch["input_ids"].shape[1]
                    batch = {
                        k: torch.nn.functional.pad(v, (0, extra), value=student.pad_id if k == "input_ids" else 0)
                        for k, v in batch.items()
                    }
                return batch

            loader.collate_fn = count
            return loader

    module = bc_module(student, steps)
    trainer = pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    data = Counted(items, items[:1], student.pad_id, batch_size=batch_size)
    start = time.perf_counter()
    trainer.fit(module, data)
    seconds = time.perf_counter() - start
    return useful["tokens"] / seconds, steps / seconds


def bc_config() -> DictConfig:
    """The BC objective with the main job's hyper-parameters (``conf/algorithm/bc.yaml`` and the recipe)."""
    return train_config(["algorithm=bc"]).algorithm.module


def bc_module(student, steps: int):
    student.model.train()
    return instantiate(bc_config(), model=student.model, total_steps=steps)


def hf_trainer_tokens_per_s(student, items, batch_size: int, steps: int, strategy: str) -> tuple[float, float]:
    """(useful tokens/s, steps/s) of Transformers' ``Trainer`` on the same model, data, batch size, steps and BC
    hyper-parameters (learning rate, weight decay, warm-up, cosine schedule), with its padding collator (labels
    -100 off the sub-question tokens, as our loss)."""
    bc = bc_config()
    rows = [
        {
            "input_ids": it["input_ids"],
            "attention_mask": [1] * len(it["input_ids"]),
            "labels": [t if a else -100 for t, a in zip(it["input_ids"], it["action_mask"])],
        }
        for it in items
    ]
    pad = DataCollatorForSeq2Seq(student.tokenizer, padding=True, label_pad_token_id=-100)
    useful = {"tokens": 0}

    def collate(batch):
        out = pad(batch)
        useful["tokens"] += int(out["attention_mask"].sum())
        return out

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            max_steps=steps,
            per_device_train_batch_size=batch_size,
            learning_rate=bc.lr,
            weight_decay=bc.weight_decay,
            warmup_steps=bc.warmup_steps,
            lr_scheduler_type="cosine",
            adam_beta2=0.95,
            max_grad_norm=1.0,
            use_cpu=True,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_num_workers=0,
            train_sampling_strategy=strategy,
            seed=0,
        )
        student.model.train()
        trainer = Trainer(model=student.model, args=args, train_dataset=rows, data_collator=collate)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    return useful["tokens"] / seconds, steps / seconds


def matmul_peak_flops(n: int, repeats: int) -> float:
    """This machine's fp32 matrix-multiply throughput, FLOP/s: the best of ``repeats`` n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    return 2 * n**3 / best_time(lambda: torch.mm(a, b), repeats)


def training_rows(make_student, items, batch_size: int, steps: int, repeats: int, peak: float) -> list[dict]:
    """Useful tokens per second of the four contenders, alternated ``repeats`` times (each one's best run)."""
    longest = max(len(it["input_ids"]) for it in items)
    measured: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):  # alternate the contenders; keep each one's best run
        for name, fn in [
            ("ours", lambda s: lightning_tokens_per_s(s, items, batch_size, steps, None)),
            ("pad_to_longest", lambda s: lightning_tokens_per_s(s, items, batch_size, steps, longest)),
            ("hf_random", lambda s: hf_trainer_tokens_per_s(s, items, batch_size, steps, "random")),
            ("hf_grouped", lambda s: hf_trainer_tokens_per_s(s, items, batch_size, steps, "group_by_length")),
        ]:
            result = fn(make_student())
            measured[name] = max(measured.get(name, (0.0, 0.0)), result)
    setting = f"batch {batch_size}, {steps} steps"
    ours = measured["ours"][0]
    params = sum(p.numel() for p in make_student().model.parameters())
    return [
        row("train_vs_pad_to_longest", ours, measured["pad_to_longest"][0], "useful tokens/s", setting),
        row("train_vs_hf_trainer", ours, measured["hf_random"][0], "useful tokens/s", setting + ", HF random sampler"),
        row(
            "train_vs_hf_trainer", ours, measured["hf_grouped"][0], "useful tokens/s", setting + ", HF group_by_length"
        ),
        row(
            "train_steps_per_s",
            measured["ours"][1],
            measured["hf_grouped"][1],
            "steps/s",
            setting + ", vs HF group_by_length",
        ),
        # forward + backward is about 6 FLOPs per parameter per token (attention's share left out)
        {
            "benchmark": "train_mfu",
            "ours": round(6 * params * ours / peak, 3),
            "baseline": None,
            "unit": "share of peak",
            "ratio": None,
            "setting": f"{params:,} parameters, peak {peak / 1e9:.1f} GFLOP/s fp32 matmul",
        },
    ]
