"""A training run killed mid-way (SIGKILL) resumes from its last checkpoint when the same command runs again
into the same folder, and ends with the same weights and metrics as an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from safetensors.torch import load_file

TINY = [
    "student=tiny",
    "dataset.sizes.train=120",
    "dataset.sizes.validation=20",
    "dataset.sizes.test=40",
    "data.samples_per_problem=2",
    "data.max_val_problems=20",
    "trainer.val_check_interval=20",
    "algorithm.module.warmup_steps=5",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "stage_cache=null",
]


def train(folder, overrides, kill_when=None):
    """Run `python -m distill.train` into ``folder``; with ``kill_when`` (a file or a list of files), SIGKILL it
    once they exist. Returns the process's stdout."""
    command = [sys.executable, "-m", "distill.train", *TINY, *overrides, f"hydra.run.dir={folder}"]
    if kill_when is None:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    files = kill_when if isinstance(kill_when, list) else [kill_when]
    while not all(f.exists() for f in files) and process.poll() is None:
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
    assert ra["train"]["val_loss_curve"] == rb["train"]["val_loss_curve"]
    steps = [s for s, _ in rb["train"]["val_curve"]]
    assert steps == list(range(steps[0], rb["train"]["steps"] + 1, steps[0]))
    assert max(acc for _, acc in rb["train"]["val_curve"]) == pytest.approx(rb["train"]["best_val_accuracy"])
    assert ra["train"]["train_curve"] == rb["train"]["train_curve"]  # the loss and gradient-norm rows too
    assert (a / "eval_records.jsonl").read_text() == (b / "eval_records.jsonl").read_text()


@pytest.mark.parametrize(
    "name,overrides,checkpoint",
    [
        ("one_stage", ["algorithm=filtered_bc", "trainer.max_steps=60"], "checkpoints/last.ckpt"),
        # Muon on the attention matrices: two optimisers' state in one checkpoint
        ("muon", ["algorithm=filtered_bc", "trainer.max_steps=60", "+recipe.muon_lr=0.005"], "checkpoints/last.ckpt"),
        (
            "in_the_bc_stage",
            [
                "+experiment=synthetic_fbc",
                "algorithm.pretrain.steps=50",
                "trainer.max_steps=30",
                "trainer.val_check_interval=10",
            ],
            "stage/checkpoints/last.ckpt",
        ),
        # online GRPO: the rollouts (seeded by the step), the frozen reference and the optimiser all come back. An
        # answerer that resolves anything makes every sample right, so rewards differ by the sub-question cost alone
        # and every group with two lengths teaches (a 30-step first stage is right on nothing with the k = 1 answerer)
        (
            "grpo",
            [
                "+experiment=synthetic_grpo",
                "algorithm.pretrain.steps=30",
                "trainer.max_steps=40",
                "algorithm.module.group_size=4",
                "algorithm.module.max_new_tokens=32",
                "algorithm.module.lr=1e-3",
                "answerer.k=100",
                "answerer.distraction=0",
                "answerer.misread=0",
            ],
            "checkpoints/last.ckpt",
        ),
    ],
)
def test_a_killed_training_run_resumes_to_the_same_result(tmp_path, name, overrides, checkpoint):
    train(tmp_path / "full", overrides)
    train(tmp_path / "killed", overrides, kill_when=tmp_path / "killed" / checkpoint)
    out = train(tmp_path / "killed", overrides)
    assert "resuming from" in out
    same_run(tmp_path / "full", tmp_path / "killed")
    if name == "grpo":  # the objective itself moved the weights: the resumed run had something to reproduce
        stage, final = (
            load_file(tmp_path / "full" / part / "model.safetensors") for part in ("stage/student", "student")
        )
        assert max((stage[k] - final[k]).abs().max().item() for k in stage) > 1e-3


def test_a_damaged_last_checkpoint_falls_back_to_the_one_before_and_ends_the_same(tmp_path):
    overrides = ["algorithm=filtered_bc", "trainer.max_steps=60"]
    train(tmp_path / "full", overrides)
    folder = tmp_path / "killed" / "checkpoints"
    # killed after the second validation
    train(tmp_path / "killed", overrides, kill_when=[folder / "last.prev.ckpt", folder / "last.ckpt"])
    last = folder / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated (a bad copy, a full disk)
    done = subprocess.run(
        [sys.executable, "-m", "distill.train", *TINY, *overrides, f"hydra.run.dir={tmp_path / 'killed'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warning = [line for line in done.stderr.splitlines() if "is damaged" in line]
    assert len(warning) == 1 and str(last) in warning[0] and "the checkpoint before it" in warning[0]
    assert "resuming from" in done.stdout and "last.prev.ckpt" in done.stdout
    assert (folder / "last.ckpt.damaged").exists()
    same_run(tmp_path / "full", tmp_path / "killed")


def test_with_no_whole_checkpoint_the_stage_trains_afresh_and_ends_the_same(tmp_path):
    overrides = ["algorithm=filtered_bc", "trainer.max_steps=40"]
    train(tmp_path / "full", overrides)
    folder = tmp_path / "killed" / "checkpoints"
    train(tmp_path / "killed", overrides, kill_when=folder / "last.ckpt")
    (folder / "last.ckpt").write_bytes(b"not a checkpoint")
    out = train(tmp_path / "killed", overrides)
    assert "resuming from" not in out
    same_run(tmp_path / "full", tmp_path / "killed")


def test_a_checkpoint_write_that_fails_midway_leaves_the_previous_one_whole(tmp_path):
    """A full disk or a kill while writing: the target keeps its previous, whole content."""
    import torch

    from distill.training.checkpoints import AtomicCheckpointIO, checkpoint_problem

    class FullDisk:
        def __reduce__(self):
            raise OSError(28, "No space left on device")

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "weights": torch.ones(1000)}, path)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"step": 2, "weights": torch.zeros(1000), "after": FullDisk()}, path)
    assert checkpoint_problem(path) is None and torch.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind
    path.write_bytes(path.read_bytes()[:-200])
    assert "not a whole checkpoint" in checkpoint_problem(path)
