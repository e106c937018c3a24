"""`python -m distill.bench --quick` runs every benchmark and writes bench.json (no timing is asserted)."""

import json
import subprocess
import sys

import pytest

from distill.bench import __main__ as bench


def test_quick_bench_writes_every_row(tmp_path, capsys):
    bench.main(["--quick", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "bench.json").read_text())
    names = {r["benchmark"] for r in rows}
    assert all(r["machine"]["cores"] >= 1 and r["machine"]["cpu"] and r["machine"]["date"] for r in rows)
    assert names >= {
        "decode_vs_paper_loop",
        "decode_vs_generate",
        "ilql_decode_vs_paper_loop",
        "train_vs_pad_to_longest",
        "train_vs_hf_trainer",
        "teacher_vs_sequential",
        "teacher_rate_limited",
        "train_mfu",
        "time_to_accuracy",
        "rl_vs_trl_grpo",
        "rl_learning_vs_trl",
    }
    # time to accuracy: the configured recipe (small: lr 1.793e-4) and the speedrun recipe (lr 4e-4)
    tta = [r["setting"] for r in rows if r["benchmark"] == "time_to_accuracy"]
    assert len(tta) == 2 and "lr 0.0001793" in tta[0] and "lr 0.0004" in tta[1]
    assert {r["setting"] for r in rows if r["benchmark"] == "decode_vs_paper_loop"} == {
        "batch 1, 32 problems",
        "batch 16, 32 problems",
    }
    for r in rows:
        assert set(r) == {"benchmark", "ours", "baseline", "unit", "ratio", "setting", "machine"}
        if r["benchmark"] == "rl_vs_trl_grpo":  # the race is fair on what both sides let us set
            assert "gradient checkpointing off" in r["setting"] and "both on cpu" in r["setting"]
        if r["unit"] == "greedy test accuracy":  # after two steps of RL from an untrained student: maybe 0
            assert 0 <= r["ours"] <= 1 and 0 <= r["baseline"] <= 1
            continue
        assert (r["ours"] is None and r["ratio"] == 0.0) or (r["ours"] > 0 and (r["ratio"] is None or r["ratio"] > 0))
    assert "bench.json in" in capsys.readouterr().out


def test_default_groups_are_the_readme_table_and_bad_counts_are_refused(tmp_path):
    args = bench.parse_args([])
    assert args.only == ["decode", "train", "teacher"] and args.problems == 200 and args.repeats == 2
    assert bench.parse_args(["--quick"]).only == list(bench.GROUPS)
    done = subprocess.run(
        [sys.executable, "-m", "distill.bench", "--problems", "-5", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--problems: must be a positive integer, got -5" in done.stderr
    assert not (tmp_path / "bench.json").exists()


def test_new_recipe_keys_are_checked(tmp_path):
    from hydra.errors import MissingConfigException

    with pytest.raises(SystemExit, match="unknown key; valid: batch_size, lr"):
        bench.main(["--quick", "--only", "time_to_accuracy", "--new-recipe", "learning_rate=1", "--out", str(tmp_path)])
    with pytest.raises(MissingConfigException, match="small_speedrun"):  # Hydra names the recipes there are
        bench.main(["--quick", "--only", "time_to_accuracy", "--new-recipe", "recipe=fast", "--out", str(tmp_path)])
