"""The gap report on fabricated results with hand-worked numbers, and end to end after a Hydra multirun."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from distill.measurement.metrics import mean_interval
from distill.report import build_report


def fake_run(
    folder,
    algorithm,
    student,
    params,
    seed,
    accuracy,
    answerer="synthetic-k1",
    reward="full",
    teacher=0.7,
    usage=None,
    decisions=None,
    ood=None,
    trial=None,
    best_of_4=None,
):
    folder.mkdir(parents=True)
    results = {
        "answerer": answerer,
        "student": {
            "accuracy": accuracy,
            "n_problems": 500,
            "params": params,
            "latency_ms_per_problem": 2.0 * seed + 1.0,
            "peak_memory_mb": 10.0,
            "mean_subquestions": 3.0 + seed,
            **(
                {
                    "decisions": {h: {"n": 10, "gold_rate": r} for h, r in decisions.items()},
                    "garbled_rate": 0.1 * (seed + 1),
                    "accuracy_by_steps": {"10": 0.5, "2": 0.25 * (seed + 1)},
                }
                if decisions
                else {}
            ),
        },
        "teacher": {
            "accuracy": teacher,
            **({"usage_per_problem": usage} if usage else {}),
            **(
                {
                    "selectors": {
                        "n": 4,
                        **{
                            name: {"accuracy": value}
                            for name, value in [("mean", teacher), ("best_of_n", best_of_4), ("majority", teacher)]
                        },
                    }
                }
                if best_of_4
                else {}
            ),
        },
        # an ILQL config's module reads the reward group's token-level values (usefulness_baseline), as the real one
        "config": {
            "algorithm": {
                "name": algorithm,
                **({"module": {"usefulness_baseline": 0.5}} if algorithm == "ilql" else {}),
            },
            "reward": {"name": reward},
            "student": {"name": student},
            "seed": seed,
        },
    }
    if ood:  # (student, teacher) accuracy on the ood split
        results["splits"] = {"ood": {"student": {"accuracy": ood[0]}, "teacher": {"accuracy": ood[1]}}}
    if trial:  # a recipe-search trial: (lr, batch size, warm-up, best validation accuracy)
        lr, batch, warmup, val = trial
        results["config"].update(sweep_objective="val_accuracy", sweep_group="recipe", data={"batch_size": batch})
        results["config"]["algorithm"]["module"] = {"lr": lr, "warmup_steps": warmup}
        results["train"] = {
            "steps": 160 // batch,
            "best_val_accuracy": val,
            **({"val_curve": [[10, val / 2], [20, val]]} if val > 0.7 else {}),
        }
    (folder / "results.json").write_text(json.dumps(results))


def cell_bounds(cell):
    """The interval of a table cell "0.550 [0.480, 0.620]"."""
    low, high = cell.split("[")[1].rstrip("]").split(",")
    return float(low), float(high)


def test_mean_interval_worked_by_hand():
    iv = mean_interval([0.5, 0.6, 0.7])
    # mean 0.6, sd 0.1, t(0.975, 2) = 4.303: half width 4.303 * 0.1 / sqrt(3) = 0.2484
    assert iv.mean == pytest.approx(0.6) and iv.high - iv.mean == pytest.approx(0.24843, abs=1e-4)
    assert mean_interval([0.4]).text() == "0.400 (n=1)"


def test_report_tables_intervals_missing_runs_and_plot(tmp_path):
    runs = tmp_path / "sweep"
    for seed, (small, big) in enumerate([(0.5, 0.7), (0.6, 0.8)]):
        fake_run(runs / f"bc_s{seed}", "bc", "tiny", 1000, seed, small, decisions={"cut_long": 0.2 + 0.2 * seed})
        fake_run(
            runs / f"bc_b{seed}",
            "bc",
            "big",
            10**6,
            seed,
            big,
            usage={"input_tokens": 300, "output_tokens": 100, "cost_usd": 0.002},
        )
    fake_run(runs / "ilql", "ilql", "tiny", 1000, 0, 0.55, reward="sparse")
    fake_run(runs / "k2", "bc", "tiny", 1000, 0, 0.9, answerer="synthetic-k2", teacher=0.95)
    (runs / "crashed" / ".hydra").mkdir(parents=True)
    (runs / "crashed" / ".hydra" / "overrides.yaml").write_text("- seed=7\n")

    report = build_report([runs], tmp_path / "report")
    header, rows = report["tables"]["accuracy_synthetic-k1"]
    assert header == ["algorithm", "tiny", "big", "average"]  # sizes ordered by parameters
    bc = rows[0]
    # tiny: 0.5, 0.6 -> mean 0.55; the interval of a proportion stays inside [0, 1] (a t-interval would be
    # 0.55 +- 0.635) and spans both seeds' values and their binomial error on 500 problems
    assert bc[1].startswith("0.550 [") and cell_bounds(bc[1])[0] < 0.5 and 0.6 < cell_bounds(bc[1])[1] < 0.66
    # average over sizes per seed: 0.6, 0.7 -> mean 0.65
    assert bc[3].startswith("0.650 [") and 0 <= cell_bounds(bc[3])[0] < 0.6 and 0.7 < cell_bounds(bc[3])[1] <= 1
    assert rows[1][0] == "ilql-sparse" and rows[1][1].startswith("0.550 [") and rows[1][2:] == ["missing", "missing"]
    # the same teacher accuracy on both seeds: only the binomial part, 0.7 +- 1.96 sqrt(0.21 / (2 x 500))
    assert rows[-1][0] == "LLM (teacher)" and len(set(rows[-1][1:])) == 1
    assert cell_bounds(rows[-1][1]) == pytest.approx((0.6716, 0.7284), abs=0.004)
    assert report["tables"]["accuracy_synthetic-k2"][1][-1][1].startswith("0.950 [")
    # missing: the crashed run folder, and the ilql cells that have no run
    assert any("crashed" in m and "seed=7" in m for m in report["missing"])
    assert "answerer synthetic-k1: ilql-sparse / big / seed 0" in report["missing"]
    assert "answerer synthetic-k1: ilql-sparse / tiny / seed 1" in report["missing"]
    cost_header, cost_rows = report["tables"]["cost"]
    assert cost_rows[-1][-2:] == ["400,000", "2.00"]  # 400 tokens and $0.002 per problem, times 1,000
    assert (tmp_path / "report" / "accuracy_synthetic-k1.csv").read_text().startswith("algorithm,tiny,big,average")
    png = (tmp_path / "report" / "accuracy_vs_params.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    runs_csv = (tmp_path / "report" / "runs.csv").read_text().splitlines()
    assert len(runs_csv) == 1 + 6 and runs_csv[1].startswith("synthetic-k1,bc,tiny,0,0.500,0.700")
    diag_header, diag_rows = report["tables"]["diagnostics_synthetic-k1"]
    assert diag_header == [
        "algorithm",
        "student",
        "mean sub-questions",
        "garbled share",
        "gold at cut_long",
        "accuracy, 2 steps",
        "accuracy, 10 steps",
    ]  # chain lengths in numeric order
    # tiny BC over seeds 0 and 1: sub-questions 3, 4; garbled 0.1, 0.2; gold rate at cut_long 0.2, 0.4
    assert diag_rows[0][:3] == ["bc", "tiny", "3.500 [-2.853, 9.853]"]
    assert diag_rows[0][3].startswith("0.150 [") and diag_rows[0][4].startswith("0.300 [")
    assert diag_rows[0][5].startswith("0.375 [") and diag_rows[0][6] == "0.500 [0.500, 0.500]"
    # shares stay inside [0, 1]: the gold rate over 10 problems a seed is a bounded bootstrap (a t-interval on 0.2
    # and 0.4 would be 0.3 +- 1.27); an accuracy by length without its problem count is a t-interval cut to [0, 1]
    assert 0.0 <= cell_bounds(diag_rows[0][4])[0] < 0.2 and 0.4 < cell_bounds(diag_rows[0][4])[1] <= 1.0
    assert diag_rows[0][5] == "0.375 [0.000, 1.000]"
    assert ["ilql-sparse", "tiny", "3.000 (n=1)", "n/a", "n/a", "n/a", "n/a"] in diag_rows
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Missing or failed runs" in text and "seed=7" in text


def test_a_multirun_sweep_of_two_tiny_runs_gives_a_report(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline"}
    shrink = [
        "student=tiny",
        "answerer.k=1",
        "seed=0,1",
        "dataset.sizes.train=60",
        "dataset.sizes.validation=10",
        "dataset.sizes.test=20",
        "data.samples_per_problem=2",
        "data.max_val_problems=10",
        "trainer.max_steps=4",
        "trainer.val_check_interval=2",
        "trainer.enable_progress_bar=false",
    ]
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "distill.train",
            "-m",
            "--config-name",
            "sweep_synthetic_gap",
            "+experiment=synthetic_bc",
            f"paths.output_dir={tmp_path}",
            "logger=wandb",
            f"hydra.sweep.dir={tmp_path}/multirun/synthetic_gap",
            "hydra.sweep.subdir=${hydra.job.num}",
            *shrink,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    folder = tmp_path / "multirun" / "synthetic_gap"
    # both runs logged to W&B (offline) in the sweep's group
    configs = [json.loads(p.read_text())["config"] for p in folder.glob("*/results.json")]
    assert len(configs) == 2 and all(c["logger"]["group"] == "synthetic_gap" for c in configs)
    report = subprocess.run(
        [sys.executable, "-m", "distill.report", str(folder), "--out", str(tmp_path / "rep")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    header, *rows = (tmp_path / "rep" / "accuracy_synthetic-k1.csv").read_text().splitlines()
    assert header == "algorithm,scratch-tiny,average" and rows[0].startswith("bc,") and "[" in rows[0]
    assert "2 runs, 0 missing or failed" in report.stdout
    assert list((tmp_path / "rep" / "wandb").glob("offline-run-*"))


def fake_cascade(folder, seed, curve, llm=(0.7, 0.002), student=(0.6, 0.0001)):
    """A cascade.json whose chosen score's test curve is ``curve``: (accuracy, cost) per validation share."""
    shares = [i / (len(curve) - 1) for i in range(len(curve))]
    points = [
        {
            "score": "agreement",
            "val_share": s,
            "threshold": 0.5,
            "deferred": s,
            "accuracy": a,
            "cost": c,
            "chosen": False,
        }
        for s, (a, c) in zip(shares, curve)
    ]
    points.append(
        {
            "score": "sequence_prob",
            "val_share": 0.0,
            "threshold": 0.1,
            "deferred": 0.0,
            "accuracy": 0.0,
            "cost": 0.0,
            "chosen": False,
        }
    )  # another score's curve: ignored by the table
    chosen = {**points[1], "chosen": True, "val_share": None}
    (folder / "cascade.json").write_text(
        json.dumps(
            {
                "confidence": {"agreement": {"roc_auc": 0.8, "val_roc_auc": 0.8 + 0.02 * seed}},
                "target": {"kind": "accuracy", "value": 0.7, "score": "agreement"},
                "points": points + [chosen],
                "chosen": chosen,
                "student": {"accuracy": student[0], "cost": student[1]},
                "llm": {"accuracy": llm[0], "cost": llm[1]},
            }
        )
    )


def test_two_variants_of_one_objective_in_one_cell_are_refused_not_mixed(tmp_path):
    from distill.core.errors import UsageError

    fake_run(tmp_path / "runs" / "grpo_seed0", "grpo", "small", 1000, 0, 0.3)
    fake_run(tmp_path / "runs" / "grpo_no_cost_seed0", "grpo", "small", 1000, 0, 0.5)
    with pytest.raises(UsageError, match="2 runs fill one cell .*grpo, small, seed 0.*grpo_no_cost_seed0"):
        build_report([tmp_path / "runs"], tmp_path / "report")
    assert not (tmp_path / "report").exists()
    # one of them, named twice through folders that overlap, is one run
    report = build_report([tmp_path / "runs" / "grpo_seed0", tmp_path / "runs" / "grpo_seed0"], tmp_path / "report")
    assert report["runs"] == 1


def test_report_cascade_table_and_cost_plot(tmp_path):
    runs = tmp_path / "sweep"
    curves = [
        [(0.60, 0.0001), (0.72, 0.0011), (0.70, 0.0021)],  # reaches the LLM's 0.7 at 0.0011 = 55% of its cost
        [(0.62, 0.0001), (0.69, 0.0011), (0.71, 0.0021)],
    ]  # only when everything goes to the LLM: 105%
    for seed, curve in enumerate(curves):
        fake_run(runs / f"s{seed}", "dpo", "small", 100, seed, curve[0][0])
        fake_cascade(runs / f"s{seed}", seed, curve)
    fake_run(runs / "no_cascade", "bc", "small", 100, 0, 0.5)  # runs without cascade.json are left out
    report = build_report([runs], tmp_path / "report", budget_share=0.5)
    header, rows = report["tables"]["cascade"]
    (row,) = rows
    cell = dict(zip(header, row))
    assert cell["score (val AUC)"].startswith("agreement (0.810")
    assert cell["same accuracy as the LLM at"].startswith("80% [")  # mean of 55% and 105%
    assert cell["best accuracy at 50% of the LLM's cost"].startswith("0.610 [")  # only the first points are affordable
    assert cell["LLM"] == "0.700 [0.700, 0.700] at $2"
    assert (tmp_path / "report" / "accuracy_vs_cost.png").stat().st_size > 0
    assert "Student first, LLM when unsure" in (tmp_path / "report" / "report.md").read_text()


def test_report_confidence_table_per_score(tmp_path):
    runs = tmp_path / "sweep"
    for seed in range(2):
        fake_run(runs / f"s{seed}", "dpo", "small", 100, seed, 0.6)
        # eleven points: validation shares 0, 0.1, ..., 1; at 20% the accuracy is 0.7 (seed 0) and 0.8 (seed 1)
        curve = [(0.6 + (0.1 * (seed + 1) if i == 2 else 0.0), 0.0001 * (i + 1)) for i in range(11)]
        fake_cascade(runs / f"s{seed}", seed, curve)
    header, rows = build_report([runs], tmp_path / "report")["tables"]["confidence"]
    (cells,) = [dict(zip(header, row)) for row in rows]  # scores with a confidence entry only
    assert cells["score"] == "agreement" and cells["ROC AUC (test)"].startswith("0.800")
    assert cells["accuracy / deferred at 20% (validation)"].startswith("0.750 [") and cells[
        "accuracy / deferred at 20% (validation)"
    ].endswith("/ 0.200")
    assert cells["accuracy / deferred at 10% (validation)"].startswith("0.600 [")


def test_size_table_ratio_ood_and_the_smallest_student_within_005(tmp_path):
    runs = tmp_path / "grid"
    for seed, (tiny, big) in enumerate([(0.5, 0.7), (0.6, 0.8)]):
        fake_run(runs / f"t{seed}", "fbc", "tiny", 1000, seed, tiny, ood=(tiny / 2, 0.5), best_of_4=0.85)
        fake_run(runs / f"b{seed}", "fbc", "big", 10**6, seed, big, ood=(0.4, 0.5), best_of_4=0.85)
        fake_run(runs / f"bc{seed}", "bc", "big", 10**6, seed, 0.6, best_of_4=0.85)
    report = build_report([runs], tmp_path / "report")
    header, rows = report["tables"]["sizes_synthetic-k1"]
    fbc_tiny = rows[[r[:2] for r in rows].index(["fbc", "tiny"])]
    cell = dict(zip(header, fbc_tiny))
    # ratios per seed 0.5 / 0.7 and 0.6 / 0.7: mean 0.7857; ood 0.25 / 0.5 and 0.3 / 0.5: mean 0.55
    assert cell["student / LLM"].startswith("0.786 [") and cell["ood student / LLM"].startswith("0.550 [")
    assert cell["ood accuracy"].startswith("0.275 [") and cell["ood LLM accuracy"] == "0.500 [0.500, 0.500]"
    assert dict(zip(header, rows[[r[:2] for r in rows].index(["bc", "big"])]))["ood accuracy"] == "n/a"
    text = (tmp_path / "report" / "report.md").read_text()
    # against teacher@1 (0.7): tiny fbc is 0.15 behind, big fbc 0.05 ahead; bc's only size is 0.1 behind;
    # against the teacher's best-of-4 (0.85) big fbc is 0.10 behind
    (fbc_line,) = [line for line in text.splitlines() if line.startswith("- fbc against teacher@1: ")]
    assert fbc_line.startswith("- fbc against teacher@1: big (1,000,000 parameters), 0.750 [")
    assert "- fbc against teacher best-of-n: none of the sizes here is within 0.05" in text
    assert "- bc against teacher@1: none of the sizes here is within 0.05" in text
    runs_csv = (tmp_path / "report" / "runs.csv").read_text().splitlines()
    assert "teacher_best_of_n" in runs_csv[0].split(",")


def test_recipe_search_trials_get_their_own_table_and_plot(tmp_path):
    folder = tmp_path / "recipes"
    for i, (trial, test) in enumerate(
        [((1e-3, 8, 100, 0.74), 0.73), ((3e-4, 16, 0, 0.2), 0.9), ((2e-3, 32, 50, 0.6), 0.5)]
    ):
        fake_run(folder / "tiny" / str(i), "filtered_bc", "tiny", 1000, 0, test, trial=trial)
    fake_run(folder / "small" / "0", "filtered_bc", "small", 5000, 0, 0.6, trial=(5e-4, 16, 50, 0.65))
    report = build_report([folder], tmp_path / "report")
    assert report["runs"] == 0  # trials are not runs of the accuracy tables
    header, rows = report["tables"]["search"]
    # the best on validation (0.74), not the best on test (0.9)
    assert rows[0] == ["tiny", "1,000", "3", "2", "0.740", "0.001", "8", "100", "20", "0.730", "yes"]
    assert rows[1][0] == "small" and rows[1][4] == "0.650" and rows[1][-1] == "not recorded"
    png = (tmp_path / "report" / "search_history.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert len((tmp_path / "report" / "search_trials.csv").read_text().splitlines()) == 1 + 4
    # the one setting both sizes tried (5e-4 was small's alone)
    assert "search_shared" not in report["tables"]
    fake_run(folder / "small" / "1", "filtered_bc", "small", 5000, 0, 0.6, trial=(1e-3, 8, 100, 0.5))
    shared = build_report([folder], tmp_path / "report")["tables"]["search_shared"]
    assert shared == (
        ["learning rate", "batch size", "warm-up steps", "tiny (validation)", "small (validation)"],
        [["0.001", "8", "100", "0.740", "0.500"]],
    )


def test_accuracy_interval_stays_inside_0_1_and_holds_seeds_and_problems():
    from distill.measurement.metrics import accuracy_interval

    # one seed: the binomial interval of 0.5 on 100 problems, 0.5 +- 1.96 x 0.05
    one = accuracy_interval([0.5], 100)
    assert one.mean == 0.5 and (one.low, one.high) == pytest.approx((0.40, 0.60), abs=0.011)
    # near the bounds it stays inside them, where a t-interval crosses them
    near = accuracy_interval([0.0, 0.02, 0.1], 500)
    assert 0.0 <= near.low < 0.04 < near.high <= 0.1 and mean_interval([0.0, 0.02, 0.1]).low < 0
    assert accuracy_interval([1.0, 1.0], 50).text() == "1.000 [1.000, 1.000]"
    # seeds far apart: the interval reaches towards both, wider than either seed's binomial part
    apart = accuracy_interval([0.2, 0.8], 1000)
    assert apart.low < 0.25 and apart.high > 0.75


def test_the_size_picture_has_size_ticks_both_teacher_lines_and_the_money_panel(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from distill.report import find_runs
    from distill.report.sizes import llm_cost_per_1000, size_label, student_cost_per_1000

    runs_dir = tmp_path / "grid"
    for seed in range(2):
        fake_run(runs_dir / f"t{seed}", "fbc", "scratch-tiny", 150_000, seed, 0.3, best_of_4=0.8)
        fake_run(runs_dir / f"s{seed}", "fbc", "scratch-small", 2_400_000, seed, 0.5, best_of_4=0.8)
    runs, _ = find_runs([runs_dir])
    prices = {"student_hour_usd": 0.36, "llm_call_usd": 0.002}
    # 10 ms per problem: 10 s per 1,000 problems at $0.36 per hour = $0.001
    assert student_cost_per_1000(10.0, prices) == pytest.approx(0.001)
    assert llm_cost_per_1000(runs, prices) == (pytest.approx(2.0), "nominal")
    assert (
        size_label("scratch-small", 2_400_000) == "small\n2.4M" and size_label("scratch-tiny", 150_000) == "tiny\n150k"
    )

    captured = {}
    real_savefig = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        captured["fig"] = fig
        return real_savefig(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        build_report([runs_dir], tmp_path / "report")
    finally:
        plt.Figure.savefig = real_savefig
    acc_ax, cost_ax = captured["fig"].axes
    assert [t.get_text() for t in acc_ax.get_xticklabels()] == ["tiny\n150k", "small\n2.4M"]
    assert acc_ax.get_ylim() == (0, 1) and cost_ax.get_yscale() == "log"
    lines = {round(line.get_ydata()[0], 3) for line in acc_ax.get_lines() if len(set(line.get_ydata())) == 1}
    assert {0.7, 0.8} <= lines  # teacher@1 and best-of-4 as horizontal lines
    legend = [t.get_text() for t in captured["fig"].legends[0].get_texts()]
    assert "teacher best-of-4, synthetic-k1" in legend and "LLM best-of-4: 4 decompositions (nominal price)" in legend
    for line in acc_ax.get_lines():  # every error bar inside [0, 1]
        assert all(0 <= y <= 1 for y in line.get_ydata())


def test_curves_join_a_resumed_runs_logs_and_colours_seeds_of_one_configuration_alike(tmp_path):
    from distill.report.curves import configuration, plot_curves, read_curves

    def log(run, version, rows):
        folder = tmp_path / run / "logs" / f"version_{version}"
        folder.mkdir(parents=True)
        lines = ["epoch,step,train/reward_mean,val/accuracy"] + [f"0,{s},{r},{v}" for s, r, v in rows]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")

    log("grpo_seed0", 0, [(24, 0.5, ""), (49, 0.6, 0.7)])
    log("grpo_seed0", 1, [(49, 0.65, 0.75), (74, 0.7, "")])  # resumed: step 49 again, the later version wins
    log("grpo_seed1", 0, [(24, 0.4, "")])
    curves = read_curves(tmp_path / "grpo_seed0")
    assert curves["train/reward_mean"] == [(24, 0.5), (49, 0.65), (74, 0.7)]
    assert curves["val/accuracy"] == [(49, 0.75)]
    assert configuration(tmp_path / "grpo_seed1") == configuration(tmp_path / "grpo_seed0") == "grpo"
    out = tmp_path / "curves.png"
    assert plot_curves([tmp_path / "grpo_seed0", tmp_path / "grpo_seed1"], out) == ["val/accuracy", "train/reward_mean"]
    assert out.stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="logger=csv"):
        read_curves(tmp_path / "missing")
