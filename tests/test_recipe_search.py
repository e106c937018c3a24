"""The per-size recipe search: Hydra's Optuna sweeper over Filtered BC at a fixed episode budget, optimising
the best validation accuracy (never test), resumable by replaying its seeded sampler."""

import json
import subprocess
import sys

import yaml
from conftest import ROOT

SHRINK = [
    "student=tiny",
    "dataset.sizes.train=60",
    "dataset.sizes.validation=10",
    "dataset.sizes.test=10",
    "data.samples_per_problem=2",
    "data.max_val_problems=10",
    "data.episodes=160",
    "trainer.val_check_interval=5",
    "trainer.enable_progress_bar=false",
    "hydra.sweeper.n_trials=2",
    "skip_done=true",
]


def sweep(tmp_path):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "-m",
            "--config-name",
            "sweep_recipe",
            f"paths.output_dir={tmp_path}",
            f"hydra.sweep.dir={tmp_path}/recipes",
            *SHRINK,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_recipe_search_optimises_validation_accuracy_at_a_fixed_budget_and_resumes(tmp_path):
    first = sweep(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    folder = tmp_path / "recipes"
    runs = [json.loads((folder / str(i) / "results.json").read_text()) for i in range(2)]
    for r in runs:
        assert r["config"]["algorithm"]["name"] == "filtered_bc"
        assert r["train"]["steps"] == 160 // r["config"]["data"]["batch_size"]  # the episode budget sets the steps
    best = yaml.safe_load((folder / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(r["train"]["best_val_accuracy"] for r in runs)
    # a relaunch replays the same trials and skips them
    again = sweep(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipped:") == 2
    assert yaml.safe_load((folder / "optimization_results.yaml").read_text())["best_params"] == best["best_params"]


def test_an_unknown_sweep_objective_names_the_valid_ones(tmp_path):
    import pytest
    from conftest import compose_config

    from distill import train

    cfg = compose_config("train", ["sweep_objective=loss"])
    with pytest.raises(ValueError, match="valid: test_accuracy, val_accuracy"):
        train.run(cfg, tmp_path)


def test_the_same_search_runs_a_pretrained_student_by_choice_of_student(tmp_path):
    """What a GPU search of SmolLM2-135M runs (there with trainer=gpu and the full budget), on CPU in two steps,
    with a fine-tuning learning-rate range given on the command line."""
    import pytest

    from distill.students.pretrained import smollm2_folder

    try:
        smollm2_folder()
    except ModuleNotFoundError as err:
        pytest.skip(str(err))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "-m",
            "--config-name",
            "sweep_recipe",
            "student=smollm2_135m",
            "student.max_length=160",
            "hydra.sweeper.n_trials=1",
            "algorithm.module.lr=tag(log, interval(1e-5, 1e-4))",
            "data.batch_size=choice(4)",
            "data.episodes=8",
            "dataset.sizes.train=20",
            "dataset.sizes.validation=2",
            "dataset.sizes.test=2",
            "data.samples_per_problem=1",
            "data.max_val_problems=2",
            "trainer.val_check_interval=2",
            "trainer.enable_progress_bar=false",
            "eval.batch_size=2",
            "threads=2",
            f"paths.output_dir={tmp_path}",
            f"hydra.sweep.dir={tmp_path}/search",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "search" / "0" / "results.json").read_text())
    assert result["student"]["params"] > 100e6 and result["train"]["steps"] == 2
    assert 1e-5 <= result["config"]["algorithm"]["module"]["lr"] <= 1e-4
