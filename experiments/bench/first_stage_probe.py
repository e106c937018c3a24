"""Train the main job's first stage (Filtered BC from scratch on the default teacher run) with one recipe and print
its validation curve and test accuracy: the loop of ``distill.bench``'s time to accuracy, without the old recipe,
for searches that run side by side (only steps and accuracies count then, not seconds). Not product code.

    python experiments/bench/first_stage_probe.py '{"lr": 4e-4, "warmup": 50, "steps": 1500, "batch_size": 8}'

Keys: lr, warmup, steps, batch_size, and optionally muon_lr, seed (as ``distill.train seed=``), threads (default
1), every (steps between validations, default 100), pack (true: ``pack_samples``, which needs the deleted ``pack_samples.patch`` of commit 5564f2f
applied).
"""

import json
import sys
import tempfile
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from distill.bench.time_to_accuracy import TrainClock, first_stage_inputs
from distill.measurement.rows import evaluate_student
from distill.training.fitting import FitSettings, fit, fresh_student

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 1))
seed = args.get("seed", 0)
cfg, parts, records, selected = first_stage_inputs([f"seed={seed}"])
stage = cfg.algorithm.pretrain
val_problems, test_problems = parts.dataset.load("validation"), parts.dataset.load("test")
pl.seed_everything(seed, workers=True)
student = fresh_student(cfg.student, records)
trainer = OmegaConf.merge(cfg.trainer, {"val_check_interval": args.get("every", 100), "enable_progress_bar": False})
settings = FitSettings(
    batch_size=args["batch_size"],
    val_fraction=cfg.data.val_fraction,
    seed=seed,
    val_problems=val_problems,
    answerer=parts.answerer,
    decode_batch_size=cfg.eval.batch_size,
    trainer=trainer,
)
objective = OmegaConf.merge(
    stage.module,
    {
        "lr": args["lr"],
        "warmup_steps": args["warmup"],
        "prompt_loss_weight": 0.0,
        "muon_lr": args.get("muon_lr"),
        **({"pack_samples": True} if args.get("pack") else {}),
    },
)
clock = TrainClock()
with tempfile.TemporaryDirectory() as tmp:
    fit(objective, args["steps"], student, selected, settings, Path(tmp), False, callbacks=[clock])
test = evaluate_student(student, test_problems, parts.answerer, None)[0]["accuracy"]
print("args", json.dumps(args))
print("curve (step, training s, val accuracy)", [(s, round(t, 1), round(a, 3)) for s, t, a in clock.curve])
print("test accuracy", test)
