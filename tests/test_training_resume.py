"""A training run killed mid-way (SIGKILL) resumes from its last checkpoint when the same command runs again
into the same folder, and ends with the same weights and metrics as an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from conftest import ROOT

TINY = ["student=tiny", "dataset.sizes.train=120", "dataset.sizes.validation=20", "dataset.sizes.test=40",
        "data.samples_per_problem=2", "data.max_val_problems=20", "trainer.val_check_interval=20",
        "algorithm.module.warmup_steps=5", "logger=none", "trainer.enable_progress_bar=false",
        "stage_cache=null"]


def train(folder, overrides, kill_when=None):
    """Run `python -m distill.train` into ``folder``; with ``kill_when`` (a file), SIGKILL it once that file
    exists. Returns the process's stdout."""
    command = [sys.executable, "-m", "distill.train", *TINY, *overrides, f"hydra.run.dir={folder}"]
    if kill_when is None:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not kill_when.exists() and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (folder / "results.json").exists(), "the run finished before it could be killed"
    return ""


def same_run(a, b):
    wa, wb = load_file(a / "student" / "model.safetensors"), load_file(b / "student" / "model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-6
    ra, rb = json.loads((a / "results.json").read_text()), json.loads((b / "results.json").read_text())
    assert ra["student"]["accuracy"] == rb["student"]["accuracy"]
    assert ra["train"]["best_val_accuracy"] == rb["train"]["best_val_accuracy"]
    assert ra["train"]["steps"] == rb["train"]["steps"]
    # the validation curve survives the kill: every validation once, its best is the selected score
    assert ra["train"]["val_curve"] == rb["train"]["val_curve"]
    steps = [s for s, _ in rb["train"]["val_curve"]]
    assert steps == list(range(steps[0], rb["train"]["steps"] + 1, steps[0]))
    assert max(acc for _, acc in rb["train"]["val_curve"]) == pytest.approx(rb["train"]["best_val_accuracy"])
    assert (a / "eval_records.jsonl").read_text() == (b / "eval_records.jsonl").read_text()


@pytest.mark.parametrize("name,overrides,checkpoint", [
    ("one_stage", ["algorithm=filtered_bc", "trainer.max_steps=60"], "checkpoints/last.ckpt"),
    # Muon on the attention matrices: two optimisers' state in one checkpoint
    ("muon", ["algorithm=filtered_bc", "trainer.max_steps=60", "+recipe.muon_lr=0.005"], "checkpoints/last.ckpt"),
    ("in_the_bc_stage", ["+experiment=synthetic_fbc", "algorithm.pretrain.steps=50", "trainer.max_steps=30",
                         "trainer.val_check_interval=10"], "stage/checkpoints/last.ckpt"),
])
def test_a_killed_training_run_resumes_to_the_same_result(tmp_path, name, overrides, checkpoint):
    train(tmp_path / "full", overrides)
    train(tmp_path / "killed", overrides, kill_when=tmp_path / "killed" / checkpoint)
    out = train(tmp_path / "killed", overrides)
    assert "resuming from" in out
    same_run(tmp_path / "full", tmp_path / "killed")
