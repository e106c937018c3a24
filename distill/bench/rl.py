"""Online RL side by side with TRL's ``GRPOTrainer`` (the pinned ``trl`` of the dev extra): the same student
(a copy of one starting point each), the same training problems in the same settings (problems per step, samples
per problem, sampling temperature, completion cap, learning rate, KL coefficient, loss type), and the same reward:
the configured answerer answers each sampled decomposition, parsed by the student's own ``parse`` from the
sampled token ids, and ``distill.algorithms.grpo.reward`` scores it. Two rows:
- ``rl_vs_trl_grpo``: optimiser steps per second, rollouts and update included;
- ``rl_learning_vs_trl``: greedy test accuracy after the same number of steps (the same rollouts), ours and TRL's.
TRL samples with ``model.generate``; ours with the project's KV-cached batched decoder. TRL's dynamic sampling has
no equal (it drops nothing), so ours runs with ``dynamic_sampling=false`` here: every group counts in both.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate

from distill.algorithms.grpo import reward
from distill.bench.common import row, timed, train_config
from distill.core.contracts import Answerer, Problem
from distill.core.final_answer import is_correct
from distill.core.records import Record
from distill.measurement.rows import decompose
from distill.students import Student
from distill.training.episodes import EpisodeDataModule, LengthBucketSampler

SETTINGS = dict(
    problems_per_step=8,
    group_size=8,
    temperature=1.0,
    max_new_tokens=64,
    lr=1e-4,
    beta=0.02,
    subquestion_cost=0.02,
    loss_type="grpo",
    seed=0,  # both sides' sampling, and the batch order both see
    device="cpu",  # both sides train here: "cpu", or "cuda" on a GPU machine (TRL's use_cpu, our accelerator)
)


def greedy_accuracy(student: Student, problems: list[Problem], answerer: Answerer) -> float:
    answers = answerer.answer(problems, decompose(student, problems, desc="greedy test decodes"))
    return sum(is_correct(a.text, p.true_answer) for a, p in zip(answers, problems)) / len(problems)


def ours(student: Student, problems: list[Problem], answerer: Answerer, steps: int, s: dict[str, Any]) -> float:
    """Seconds for ``steps`` steps of ``algorithm=grpo`` (its config's other settings, no warm-up) on ``student``."""
    cfg = train_config(["algorithm=grpo"])
    module = instantiate(
        cfg.algorithm.module,
        model=student.model,
        total_steps=steps,
        lr=s["lr"],
        beta=s["beta"],
        group_size=s["group_size"],
        temperature=s["temperature"],
        loss_type=s["loss_type"],
        subquestion_cost=s["subquestion_cost"],
        max_new_tokens=s["max_new_tokens"],
        warmup_steps=0,
        dynamic_sampling=False,
        muon_lr=None,
        seed=s["seed"],
    )
    module.bind(student, answerer, problems)
    items = module.make_items(student, [Record(p.problem_id, p.text, []) for p in problems])
    # the gradient clip of every training run (conf/trainer), as TRL's max_grad_norm (1.0 by default)
    trainer = pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        accelerator="gpu" if s["device"] == "cuda" else "cpu",
        precision="32-true",  # as TRL's side (bf16=False)
    )
    student.model.train()
    data = EpisodeDataModule(items, items, student.pad_id, batch_size=s["problems_per_step"], seed=s["seed"])
    return timed(lambda: trainer.fit(module, data))[1]


def batch_order(student: Student, problems: list[Problem], steps: int, s: dict[str, Any]) -> list[int]:
    """The problems our side trains on, step after step (its data module's length-bucketed batches at seed
    ``s["seed"]``), as indices into ``problems``: TRL gets its data set in this order, unshuffled, so each of its
    steps takes the same problems as ours."""
    lengths = [len(student.prompt_ids(p.text)) for p in problems]  # a GRPO item is its prompt (make_items)
    sampler = LengthBucketSampler(lengths, s["problems_per_step"], seed=s["seed"], endless=True)
    return [i for batch in itertools.islice(iter(sampler), steps) for i in batch]


def trl_reward(
    student: Student, problems: list[Problem], answerer: Answerer, cost: float
) -> Callable[..., list[float]]:
    """A reward function in TRL's calling convention that scores exactly as ours does."""

    def score(prompts, completions, completion_ids, problem_index, **_) -> list[float]:
        decompositions = [student.parse(list(ids)) for ids in completion_ids]
        batch = [problems[i] for i in problem_index]
        answers = answerer.answer(batch, decompositions)
        return [
            reward(is_correct(a.text, p.true_answer), len(d), cost) for a, p, d in zip(answers, batch, decompositions)
        ]

    return score


def trls(student: Student, problems: list[Problem], answerer: Answerer, steps: int, s: dict[str, Any]) -> float:
    """Seconds for ``steps`` steps of TRL's ``GRPOTrainer`` on ``student`` with the same settings."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rows = []
    for i in batch_order(student, problems, steps, s):  # our batches, in our order: TRL's data set, unshuffled
        ids = student.prompt_ids(problems[i].text)  # the student's own prompt (problem and separator) as text
        text = student.tokenizer.decode(ids)
        if student.encode(text) != ids:
            raise RuntimeError(
                f"the prompt of {problems[i].problem_id} does not survive decode and encode: TRL would see another"
            )
        rows.append({"prompt": text, "problem_index": i})
    data = Dataset.from_list(rows)
    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="distill-bench-trl-"),
        max_steps=steps,
        learning_rate=s["lr"],
        per_device_train_batch_size=s["problems_per_step"] * s["group_size"],
        num_generations=s["group_size"],
        gradient_accumulation_steps=1,
        num_iterations=1,
        temperature=s["temperature"],
        top_p=1.0,
        top_k=0,
        max_completion_length=s["max_new_tokens"],
        beta=s["beta"],
        loss_type=s["loss_type"],
        scale_rewards="group",
        # our optimiser and schedule (distill/algorithms/optim.py): AdamW betas (0.9, 0.95), cosine to 10% of lr
        adam_beta1=0.9,
        adam_beta2=0.95,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1},
        warmup_steps=0,
        weight_decay=0.01,
        gradient_checkpointing=False,  # on by default in TRL (each forward recomputed in the backward); ours never
        use_cpu=s["device"] == "cpu",
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=max(steps, 1),
        shuffle_dataset=False,  # the data set is already in our batch order (batch_order)
        seed=s["seed"],
        disable_tqdm=True,
    )
    # TRL builds its KL reference from the model's path: hand it the student saved, and take the weights back
    folder = tempfile.mkdtemp(prefix="distill-bench-trl-student-")
    student.save(folder)
    trainer = GRPOTrainer(
        model=folder,
        reward_funcs=trl_reward(student, problems, answerer, s["subquestion_cost"]),
        args=args,
        train_dataset=data,
        processing_class=student.tokenizer,
    )
    seconds = timed(trainer.train)[1]
    student.model.load_state_dict(trainer.model.state_dict())
    return seconds


def rl_rows(
    make_student: Callable[[], Student],
    train_problems: list[Problem],
    test_problems: list[Problem],
    answerer: Answerer,
    steps: int,
    settings: dict[str, Any] | None = None,
) -> list[dict]:
    """Both rows, each contender starting from its own copy of ``make_student()``."""
    s = {**SETTINGS, **(settings or {})}
    start_accuracy = greedy_accuracy(make_student(), test_problems, answerer)
    mine, theirs = make_student(), make_student()
    ours_seconds = ours(mine, train_problems, answerer, steps, s)
    trl_seconds = trls(theirs, train_problems, answerer, steps, s)
    setting = (
        f"{steps} steps of {s['problems_per_step']} problems x {s['group_size']} samples, "
        f"{s['max_new_tokens']} new tokens at most, {s['loss_type']} loss, beta {s['beta']}, lr {s['lr']}; both on "
        f"{s['device']} in float32, AdamW betas (0.9, 0.95), cosine to 10% of lr, no warm-up, gradient checkpointing "
        f"off, grad clip 1.0; the same batches in the same order (ours length-bucketed, seed {s['seed']}); "
        f"student {mine.name} at {start_accuracy:.3f} greedy test accuracy before"
    )
    ours_accuracy = greedy_accuracy(mine, test_problems, answerer)
    trl_accuracy = greedy_accuracy(theirs, test_problems, answerer)
    return [
        row("rl_vs_trl_grpo", steps / ours_seconds, steps / trl_seconds, "steps/s", setting),
        # accuracies may be 0: the figure to read is the difference, ours - TRL's (a ratio only where defined)
        {
            "benchmark": "rl_learning_vs_trl",
            "ours": round(ours_accuracy, 3),
            "baseline": round(trl_accuracy, 3),
            "unit": "greedy test accuracy",
            "ratio": round(ours_accuracy / trl_accuracy, 2) if trl_accuracy else None,
            "setting": setting,
        },
    ]
