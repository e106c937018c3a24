"""Benchmarks, side by side in one process: our decoding, training and teacher runs against the paper's
loops, Hugging Face's `generate` and `Trainer`, and one request at a time.

    python -m distill.bench [--quick] [--student RUN_OR_STUDENT] [--threads N] [--out DIR]

Prints a table and writes ``bench.json`` (a list of rows ``{"benchmark", "ours", "baseline", "unit",
"ratio", "setting"}``, ``ratio`` > 1 meaning ours is better) into ``DIR`` (default
``$DISTILL_OUTPUT_DIR/bench/<time>``). Every comparison first checks that both sides produce the same
output where they must (greedy decodes), then times them alternately. ``--quick`` runs each for a few
seconds (a smoke test; its figures mean little). Timings are wall clock on this machine: run nothing else
meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl
import torch

from distill.measurement.decoding import LMScorer, decode_tokens, left_pad

CONF = Path(__file__).resolve().parents[1] / "conf"


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(benchmark: str, ours: float, baseline: float, unit: str, setting: str, higher_is_better: bool = True) -> dict:
    ratio = ours / baseline if higher_is_better else baseline / ours
    return {"benchmark": benchmark, "ours": round(ours, 3), "baseline": round(baseline, 3), "unit": unit,
            "ratio": round(ratio, 2), "setting": setting}


# --- decoding --------------------------------------------------------------------------------------

@torch.no_grad()
def paper_loop(models: list[torch.nn.Module], combine: Callable[[list[torch.Tensor]], torch.Tensor],
               prompts: list[list[int]], eos_id: int, pad_id: int, max_new_tokens: int) -> list[list[int]]:
    """The reference code's decoding: at every token, every model re-runs over the whole prefix (no cache)."""
    ids, mask = left_pad(prompts, pad_id)
    outputs: list[list[int]] = [[] for _ in prompts]
    done = torch.zeros(len(prompts), dtype=torch.bool)
    for _ in range(max_new_tokens):
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        outs = [m(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=True)
                for m in models]
        tokens = combine(outs).argmax(-1)
        tokens = torch.where(done, torch.full_like(tokens, pad_id), tokens)
        for r in torch.nonzero(~done).flatten().tolist():
            outputs[r].append(int(tokens[r]))
        done |= tokens == eos_id
        if bool(done.all()):
            break
        ids = torch.cat([ids, tokens[:, None]], dim=1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return outputs


@torch.no_grad()
def hf_generate(model: torch.nn.Module, prompts: list[list[int]], eos_id: int, pad_id: int,
                max_new_tokens: int) -> list[list[int]]:
    """Transformers' greedy ``generate`` on the same left-padded prompts, cut after EOS like ours."""
    ids, mask = left_pad(prompts, pad_id)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                         eos_token_id=eos_id, pad_token_id=pad_id)[:, ids.shape[1]:].tolist()
    return [row[: row.index(eos_id) + 1] if eos_id in row else row for row in out]


def decoding_rows(student, problems, batch_sizes: list[int], max_new_tokens: int, repeats: int) -> list[dict]:
    from distill.algorithms.ilql import ILQLScorer, ValueHeads

    model = student.model.eval()
    prompts = [student.prompt_ids(p.text) for p in problems]
    heads = ValueHeads(model.config.hidden_size, model.get_output_embeddings().weight.shape[0]).eval()
    rows = []
    for bs in batch_sizes:
        batches = [prompts[i:i + bs] for i in range(0, len(prompts), bs)]

        def ours():  # one scorer per pass over the problems, as the evaluation builds it (decode_actions)
            scorer = LMScorer(model)
            return [o for b in batches for o in decode_tokens(scorer, b, student.eos_id, student.pad_id,
                                                              max_new_tokens=max_new_tokens)]

        def theirs():
            return [o for b in batches for o in paper_loop([model], lambda outs: outs[0].logits[:, -1], b,
                                                           student.eos_id, student.pad_id, max_new_tokens)]

        def generate():
            return [o for b in batches for o in hf_generate(model, b, student.eos_id, student.pad_id, max_new_tokens)]

        reference = ours()
        assert theirs() == reference, "the paper's loop and ours decode differently"
        assert generate() == reference, "generate() and ours decode differently"
        t_ours, t_paper, t_gen = (best_time(f, repeats) for f in (ours, theirs, generate))
        n = len(prompts)
        setting = f"batch {bs}, {n} problems"
        rows.append(row("decode_vs_paper_loop", n / t_ours, n / t_paper, "problems/s", setting))
        rows.append(row("decode_vs_generate", n / t_ours, n / t_gen, "problems/s", setting))

        def guided():
            scorer = ILQLScorer(model, model, heads, 1.0)
            return [o for b in batches for o in decode_tokens(scorer, b, student.eos_id, student.pad_id,
                                                              max_new_tokens=max_new_tokens)]

        def guided_paper():
            def combine(outs):
                logp = torch.log_softmax(outs[0].logits[:, -1].float(), -1)
                return logp + heads.target_advantage(outs[1].hidden_states[-1][:, -1])
            return [o for b in batches for o in paper_loop([model, model], combine, b, student.eos_id,
                                                           student.pad_id, max_new_tokens)]

        assert guided() == guided_paper(), "value-guided decoding differs from its no-cache reference"
        t_guided, t_guided_paper = best_time(guided, repeats), best_time(guided_paper, repeats)
        rows.append(row("ilql_decode_vs_paper_loop", n / t_guided, n / t_guided_paper, "problems/s", setting))
    return rows


# --- training --------------------------------------------------------------------------------------

def lightning_tokens_per_s(student, items, batch_size: int, steps: int, pad_to: int | None) -> tuple[float, float]:
    """(useful tokens/s, steps/s) of our BC training for ``steps`` steps; ``pad_to`` pads every batch to that
    length (the paper's batching: the data set's longest episode) instead of the batch's longest."""
    import pytorch_lightning as pl

    from distill.training.episodes import EpisodeDataModule

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
                    batch = {k: torch.nn.functional.pad(v, (0, extra), value=student.pad_id if k == "input_ids" else 0)
                             for k, v in batch.items()}
                return batch

            loader.collate_fn = count
            return loader

    module = bc_module(student, steps)
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         limit_val_batches=0, enable_model_summary=False, num_sanity_val_steps=0)
    data = Counted(items, items[:1], student.pad_id, batch_size=batch_size)
    start = time.perf_counter()
    trainer.fit(module, data)
    seconds = time.perf_counter() - start
    return useful["tokens"] / seconds, steps / seconds


def bc_module(student, steps: int):
    """The BC objective with the main job's hyper-parameters (conf/algorithm/bc.yaml)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["algorithm=bc"])
    student.model.train()
    return instantiate(cfg.algorithm.module, model=student.model, total_steps=steps)


def hf_trainer_tokens_per_s(student, items, batch_size: int, steps: int, strategy: str) -> tuple[float, float]:
    """(useful tokens/s, steps/s) of Transformers' ``Trainer`` on the same model, data, batch size, learning
    rate and steps, with its padding collator (labels -100 off the sub-question tokens, as our loss)."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    rows = [{"input_ids": it["input_ids"], "attention_mask": [1] * len(it["input_ids"]),
             "labels": [t if a else -100 for t, a in zip(it["input_ids"], it["action_mask"])]} for it in items]
    pad = DataCollatorForSeq2Seq(student.tokenizer, padding=True, label_pad_token_id=-100)
    useful = {"tokens": 0}

    def collate(batch):
        out = pad(batch)
        useful["tokens"] += int(out["attention_mask"].sum())
        return out

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, max_steps=steps, per_device_train_batch_size=batch_size,
                                 learning_rate=3e-4, weight_decay=0.01, warmup_steps=10, lr_scheduler_type="cosine",
                                 adam_beta2=0.95, max_grad_norm=1.0, use_cpu=True, report_to=[], save_strategy="no",
                                 logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0,
                                 train_sampling_strategy=strategy, seed=0)
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
    longest = max(len(it["input_ids"]) for it in items)
    measured: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):  # alternate the contenders; keep each one's best run
        for name, fn in [("ours", lambda s: lightning_tokens_per_s(s, items, batch_size, steps, None)),
                         ("pad_to_longest", lambda s: lightning_tokens_per_s(s, items, batch_size, steps, longest)),
                         ("hf_random", lambda s: hf_trainer_tokens_per_s(s, items, batch_size, steps, "random")),
                         ("hf_grouped", lambda s: hf_trainer_tokens_per_s(s, items, batch_size, steps,
                                                                          "group_by_length"))]:
            result = fn(make_student())
            measured[name] = max(measured.get(name, (0.0, 0.0)), result)
    setting = f"batch {batch_size}, {steps} steps"
    ours = measured["ours"][0]
    params = sum(p.numel() for p in make_student().model.parameters())
    return [
        row("train_vs_pad_to_longest", ours, measured["pad_to_longest"][0], "useful tokens/s", setting),
        row("train_vs_hf_trainer", ours, measured["hf_random"][0], "useful tokens/s", setting + ", HF random sampler"),
        row("train_vs_hf_trainer", ours, measured["hf_grouped"][0], "useful tokens/s", setting + ", HF group_by_length"),
        row("train_steps_per_s", measured["ours"][1], measured["hf_grouped"][1], "steps/s", setting + ", vs HF group_by_length"),
        # forward + backward is about 6 FLOPs per parameter per token (attention's share left out)
        {"benchmark": "train_mfu", "ours": round(6 * params * ours / peak, 3), "baseline": None, "unit": "share of peak",
         "ratio": None, "setting": f"{params:,} parameters, peak {peak / 1e9:.1f} GFLOP/s fp32 matmul"},
    ]


# --- the LLM teacher -------------------------------------------------------------------------------

def teacher_rows(n_problems: int, latency: float) -> list[dict]:
    """Finished problems per minute of a teacher run (decompose, answer, judge) against the local Messages API server
    with ``latency`` seconds per request: our default client settings (``conf/client/anthropic.yaml``) against
    one request at a time; then against a server that rate-limits (429 beyond half our concurrency, and to 5%
    of requests at random), adaptive concurrency against the same client with adaptation off."""
    from omegaconf import OmegaConf

    from distill.core.contracts import Problem
    from distill.core.teacher_runs import annotate
    from distill.llm.anthropic_client import AnthropicClient
    from distill.llm.roles import LLMAnswerer, LLMJudge, LLMTeacher

    defaults = OmegaConf.load(CONF / "client" / "anthropic.yaml")
    concurrency, max_retries = defaults.concurrency, defaults.max_retries
    problems = [Problem(f"b{i}", f"Ann has {i + 3} apples and buys {i + 5} more. How many apples does she have?",
                        float(2 * i + 8)) for i in range(n_problems)]

    def run(batch: list[Problem], url: str, **client) -> tuple[float, int]:
        llm = AnthropicClient(model="claude-bench", prices={"input": 1.0, "output": 5.0}, cache_path=None,
                              max_retries=max_retries, api_key="x", base_url=url, **client)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = annotate(batch, LLMTeacher(llm, max_tokens=400, examples_path=None, n_examples=3),
                              LLMAnswerer(llm, max_tokens=512), LLMJudge(llm, n_votes=3, max_tokens=200), n_samples=4,
                              records_path=Path(tmp) / "r.jsonl", batch_size=len(batch))
            # problems that finished: a failed problem is not work done, however fast it failed
            return 60 * (len(batch) - len(result.failed)) / (time.perf_counter() - start), len(result.failed)

    rows = []
    for limits, contenders in [({}, {"ours": {"concurrency": concurrency}, "sequential": {"concurrency": 1}}),
                               ({"max_in_flight": concurrency // 2, "rate_limit_share": 0.05},
                                {"ours": {"concurrency": concurrency},
                                 "fixed": {"concurrency": concurrency, "adaptive_concurrency": False}})]:
        # the server in its own process, as a remote API is: its work does not hold this process's interpreter
        port = free_port()
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in limits.items()]
        server = subprocess.Popen([sys.executable, "-m", "distill.llm.local_server", f"--port={port}",
                                   f"--delay={latency}", *flags], stdout=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            server.stdout.readline()  # "Messages API on ...": listening
            run(problems[:1], url, concurrency=1)  # warm-up: imports and the first connection, paid by neither
            results = {name: run(problems, url, **client) for name, client in contenders.items()}
        finally:
            server.terminate()
            server.wait()
        (ours, ours_failed), (base, base_failed) = results.values()
        setting = f"{n_problems} problems x 4 samples, {latency * 1000:.0f} ms per request, {concurrency} in flight"
        if limits:
            rows.append(row("teacher_rate_limited", ours, base, "problems/min",
                            f"{setting}; server: 429 beyond {limits['max_in_flight']} in flight and to 5% at random; "
                            f"adaptive against fixed concurrency; failed problems {ours_failed} against {base_failed}"))
        else:
            rows.append(row("teacher_vs_sequential", ours, base, "problems/min", setting))
    return rows


# --- time to accuracy ------------------------------------------------------------------------------

class TrainClock(pl.Callback):
    """Training seconds (validation excluded) and val/accuracy at each validation."""

    def __init__(self) -> None:
        self.curve: list[tuple[int, float, float]] = []  # (step, training seconds, val/accuracy)

    def on_train_start(self, trainer, module) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def on_validation_start(self, trainer, module) -> None:
        self.pause_at = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        elapsed = self.pause_at - self.start - self.paused
        self.paused += time.perf_counter() - self.pause_at
        accuracy = trainer.callback_metrics.get("val/accuracy")
        if accuracy is not None:
            self.curve.append((trainer.global_step, elapsed, float(accuracy)))


GROUPS = ("decode", "train", "teacher", "time_to_accuracy")
OLD_RECIPE = {"batch_size": 16, "lr": 3e-4, "warmup_steps": 100, "steps": 1500, "precision": "32-true",
              "prompt_loss_weight": 0.0, "muon_lr": None}


def default_recipe(recipe: str | None = None) -> dict[str, Any]:
    """The main job's first stage as configured (``conf/``): what ``python -m distill.train`` trains first;
    with ``recipe``, what it trains with ``recipe=<that>``."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"recipe={recipe}"] if recipe else [])
    stage = cfg.algorithm.pretrain
    return {"batch_size": cfg.data.batch_size, "lr": stage.module.lr, "warmup_steps": stage.module.warmup_steps,
            "steps": stage.steps, "precision": cfg.trainer.precision,
            "prompt_loss_weight": stage.module.prompt_loss_weight, "muon_lr": stage.module.muon_lr}


def first_stage_inputs(overrides: list[str]) -> tuple[Any, Any, list, list]:
    """The main job's first stage (with ``overrides`` to ``distill.train``'s config): the config, its parts, the
    default teacher run's records (a fresh student's tokenizer is trained on them) and those the stage trains on
    (filtered as the stage says)."""
    from hydra import compose, initialize_config_dir

    from distill.core.parts import build_parts
    from distill.core.teacher_runs import annotate_batch
    from distill.training.selection import select_records

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    parts = build_parts(cfg)
    records, _ = annotate_batch(parts.dataset.load("train"), parts.teacher, parts.answerer, parts.judge,
                                cfg.data.samples_per_problem)
    stage = cfg.algorithm.pretrain
    selected = select_records(records, stage.min_correctness, stage.min_usefulness)
    return cfg, parts, records, selected


def time_to_accuracy_rows(news: list[dict[str, Any]], quick: bool, probe_every: int, seed: int = 0) -> list[dict]:
    """Training time until the main job's first stage (Filtered BC on the default teacher run) first reaches
    the validation accuracy that the old recipe ends with: the old recipe against each of ``news`` (one row
    each). Validation decodes (every ``probe_every`` steps, all validation problems) are not counted; the test
    accuracy of each recipe's best checkpoint is reported beside. ``seed``: the run's seed (teacher run, student
    initialisation, held-out problems, batch order), as ``seed=`` of ``distill.train``."""
    from omegaconf import OmegaConf

    from distill.measurement.rows import evaluate_student
    from distill.training.fitting import FitSettings, fit, fresh_student

    sizes = ["dataset.sizes.train=100", "dataset.sizes.validation=20", "dataset.sizes.test=20"] if quick else []
    cfg, parts, records, selected = first_stage_inputs([*sizes, f"seed={seed}"])
    stage = cfg.algorithm.pretrain
    val_problems, test_problems = parts.dataset.load("validation"), parts.dataset.load("test")

    curves, tests = {}, {}
    for name, recipe in [("old", {**OLD_RECIPE, **({"steps": 20} if quick else {})}), *enumerate(news)]:
        pl.seed_everything(seed, workers=True)
        student = fresh_student(cfg.student, records)
        trainer = OmegaConf.merge(cfg.trainer, {"val_check_interval": probe_every, "precision": recipe["precision"],
                                                "enable_progress_bar": False})
        settings = FitSettings(batch_size=recipe["batch_size"], val_fraction=cfg.data.val_fraction, seed=seed,
                               val_problems=val_problems, answerer=parts.answerer,
                               decode_batch_size=cfg.eval.batch_size, trainer=trainer)
        objective = OmegaConf.merge(stage.module, {k: recipe[k] for k in ("lr", "warmup_steps", "prompt_loss_weight",
                                                                           "muon_lr")})
        clock = TrainClock()
        with tempfile.TemporaryDirectory() as tmp:
            fit(objective, recipe["steps"], student, selected, settings, Path(tmp), False, callbacks=[clock])
        curves[name] = clock.curve
        tests[name] = evaluate_student(student, test_problems, parts.answerer, None)[0]["accuracy"]
    target = curves["old"][-1][2]
    old_time = next(t for _, t, a in curves["old"] if a >= target)
    rows = []
    for i, new in enumerate(news):
        new_time = next((t for _, t, a in curves[i] if a >= target), None)
        setting = (f"seed {seed}; first stage to val accuracy {target:.3f} (the old recipe's final, "
                   f"{len(val_problems)} problems); "
                   f"old: batch 16, lr 3e-4, 1500 steps, fp32, no prompt loss; "
                   f"new: {', '.join(f'{k} {v}' for k, v in new.items())}; "
                   f"test accuracy old {tests['old']:.3f}, new {tests[i]:.3f}; curves (step, s, acc): "
                   f"old {[(s, round(t, 1), a) for s, t, a in curves['old']]}, "
                   f"new {[(s, round(t, 1), a) for s, t, a in curves[i]]}")
        if new_time is None:
            rows.append({"benchmark": "time_to_accuracy", "ours": None, "baseline": round(old_time, 1), "unit": "s",
                         "ratio": 0.0, "setting": "the new recipe never reached the target; " + setting})
        else:
            rows.append(row("time_to_accuracy", new_time, old_time, "s", setting, higher_is_better=False))
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the command -----------------------------------------------------------------------------------

def setup(student_path: str | None, n_train: int, n_test: int):
    """Problems and a student: a saved one, or a fresh small one with its tokenizer trained on the data."""
    from hydra import compose, initialize_config_dir

    from distill.core.parts import build_parts
    from distill.core.teacher_runs import annotate_batch
    from distill.students import Student, student_folder
    from distill.training.fitting import fresh_student

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"dataset.sizes.train={n_train}", f"dataset.sizes.test={n_test}"])
    parts = build_parts(cfg)
    train_problems, test_problems = parts.dataset.load("train"), parts.dataset.load("test")
    records, _ = annotate_batch(train_problems, parts.teacher, parts.answerer, parts.judge, 1)

    def make_student():
        torch.manual_seed(0)
        return Student.load(student_folder(student_path)) if student_path else fresh_student(cfg.student, records)

    return make_student, records, test_problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m distill.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per benchmark (smoke test)")
    parser.add_argument("--student", default=None, help="a saved student or run folder (default: a fresh small student)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--problems", type=int, default=500, help="test problems decoded per setting")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per contender (the best counts)")
    parser.add_argument("--out", type=Path, default=None, help="folder for bench.json")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="benchmark groups to run")
    parser.add_argument("--new-recipe", nargs="+", action="append", default=None, metavar="KEY=VALUE",
                        help=f"time_to_accuracy: a recipe to compare, as changes to the configured one (keys: "
                             f"{', '.join(OLD_RECIPE)}; recipe=NAME starts from conf/recipe/NAME.yaml); repeat for "
                             f"several (default: the configured recipe and recipe=small_speedrun)")
    parser.add_argument("--probe-every", type=int, default=100, help="time_to_accuracy: steps between validations")
    parser.add_argument("--seed", type=int, default=0, help="time_to_accuracy: the runs' seed (as distill.train seed=)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or Path(os.environ.get("DISTILL_OUTPUT_DIR", "outputs")) / "bench" / datetime.now().strftime(
        "%Y-%m-%d_%H-%M-%S")
    quick = args.quick
    repeats = 1 if quick else args.repeats
    rows = []
    if {"decode", "train"} & set(args.only):
        make_student, records, test_problems = setup(args.student, 200 if quick else 2000, 32 if quick else args.problems)
        student = make_student()
        items = [{"input_ids": e.input_ids, "action_mask": e.action_mask}
                 for e in (student.episode(r.problem, r.subquestions) for r in records)]
    if "decode" in args.only:
        rows += decoding_rows(student, test_problems, [1, 16] if quick else [1, 64], 24 if quick else 64, repeats)
    if "train" in args.only:
        peak = matmul_peak_flops(256 if quick else 2048, 3 if quick else 10)
        rows += training_rows(make_student, items, 16, 10 if quick else 300, repeats, peak)
    if "teacher" in args.only:
        rows += teacher_rows(2 if quick else 16, 0.02 if quick else 0.15)
    if "time_to_accuracy" in args.only:
        news = []
        # by default: the configured recipe and the speedrun one (conf/recipe/small_speedrun.yaml)
        for changes in args.new_recipe or [[], ["recipe=small_speedrun"]]:
            new = default_recipe(next((c.partition("=")[2] for c in changes if c.startswith("recipe=")), None))
            changes = [c for c in changes if not c.startswith("recipe=")]
            for item in changes:
                key, _, value = item.partition("=")
                if key not in OLD_RECIPE:
                    raise SystemExit(f"--new-recipe {item}: unknown key; valid: {', '.join(OLD_RECIPE)}")
                new[key] = None if value == "null" else (float if key == "muon_lr" else type(OLD_RECIPE[key]))(value)
            news.append({**new, **({"steps": 20} if quick else {})})
        rows += time_to_accuracy_rows(news, quick, 10 if quick else args.probe_every, args.seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(rows, indent=2) + "\n")
    width = max(len(r["benchmark"]) for r in rows)
    print(f"{'benchmark':{width}s}  {'ours':>10s}  {'baseline':>10s}  {'ratio':>6s}  unit; setting")
    for r in rows:
        base = "" if r["baseline"] is None else f"{r['baseline']:10.3f}"
        ours = "never" if r["ours"] is None else f"{r['ours']:10.3f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:6.2f}"
        print(f"{r['benchmark']:{width}s}  {ours:>10s}  {base:>10s}  {ratio:>6s}  {r['unit']}; {r['setting']}")
    print(f"bench.json in {out}")


if __name__ == "__main__":
    main()
