"""Beyond one process: a sweep through Hydra's submitit launcher, and data-parallel training (Lightning DDP,
two CPU processes on gloo), each on a shrunken run."""

import json
import subprocess
import sys

from conftest import ROOT

SHRINK = [
    "+experiment=synthetic_bc",
    "student=tiny",
    "answerer.k=1",
    "dataset.sizes.train=60",
    "dataset.sizes.validation=10",
    "dataset.sizes.test=20",
    "dataset.sizes.ood=10",
    "data.samples_per_problem=2",
    "data.max_val_problems=10",
    "trainer.max_steps=6",
    "trainer.val_check_interval=3",
    "trainer.enable_progress_bar=false",
]


def test_a_two_job_sweep_through_the_submitit_local_launcher(tmp_path):
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "-m",
            "--config-name",
            "sweep_synthetic_gap",
            "hydra/launcher=submitit_local",
            "hydra.launcher.timeout_min=10",
            "seed=0,1",
            *SHRINK,
            f"paths.output_dir={tmp_path}",
            f"hydra.sweep.dir={tmp_path}/grid",
            "hydra.sweep.subdir=${hydra.job.num}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    results = [json.loads((tmp_path / "grid" / str(i) / "results.json").read_text()) for i in range(2)]
    assert [r["config"]["seed"] for r in results] == [0, 1]
    assert all(r["splits"]["ood"]["student"]["n_problems"] == 10 for r in results)  # the grid's ood split
    # each job ran as its own submitit job, with its own logs
    assert len(list((tmp_path / "grid" / ".submitit").glob("*/*_log.out"))) == 2


def test_ddp_trains_with_two_cpu_processes(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            *SHRINK,
            "trainer.strategy=ddp",
            "trainer.devices=2",
            "threads=1",
            "logger=none",
            f"paths.output_dir={tmp_path}",
            f"hydra.run.dir={tmp_path}/run",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "distributed_backend=gloo" in run.stderr + run.stdout
    assert "Starting with 2 processes" in run.stderr + run.stdout
    results = json.loads((tmp_path / "run" / "results.json").read_text())  # written once, by the first process
    assert results["train"]["steps"] == 6 and results["student"]["n_problems"] == 20
    assert (tmp_path / "run" / "train_ddp_process_1.log").exists()


def test_the_algorithms_sweep_runs_two_at_a_time_and_trains_each_bc_stage_once(tmp_path):
    """conf/sweep_synthetic_algorithms.yaml through its joblib launcher (two processes): the Filtered BC runs
    start from their seed's BC run, kept in the stage cache, instead of training the BC stage again."""
    sizes = [o for o in SHRINK if not o.startswith(("+experiment", "trainer.max_steps"))]
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "-m",
            "--config-name",
            "sweep_synthetic_algorithms",
            "+experiment=synthetic_bc,synthetic_fbc",
            "seed=0,1",
            *sizes,
            "recipe.steps=6",
            "trainer.max_steps=6",
            f"paths.output_dir={tmp_path}",
            "hydra.sweep.subdir=${hydra.job.num}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in sweep.stdout + sweep.stderr
    runs = [json.loads(p.read_text()) for p in (tmp_path / "multirun" / "synthetic_algorithms").glob("*/results.json")]
    by = {(r["config"]["algorithm"]["name"], r["config"]["seed"]): r for r in runs}
    assert len(by) == 4
    for seed in (0, 1):
        bc, fbc = by["bc", seed], by["filtered_bc", seed]
        assert "reused_from" not in bc["train"] and fbc["pretrain"]["reused_from"]
        assert fbc["pretrain"]["val_curve"] == bc["train"]["val_curve"]
    assert len(list((tmp_path / "stages").glob("stage-*"))) == 2
