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
            assert "gradient checkpointing off" in r["setting"] and "both on cpu in float32" in r["setting"]
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


def test_trl_is_given_our_batches_in_our_order():
    """The race's batch order: TRL's own sampler over the data set ``batch_order`` builds (unshuffled, each prompt
    repeated for its group) takes, step by step, the problems our data module's batches hold."""
    import itertools

    from conftest import objective, scratch_student
    from trl.trainer.grpo_trainer import RepeatSampler

    from distill.bench.rl import SETTINGS, batch_order
    from distill.core.contracts import Problem
    from distill.core.records import Record
    from distill.training.episodes import EpisodeDataModule

    texts = [f"Ann has {n} apples and " + "more words " * (n % 5) + "?" for n in range(40)]
    problems = [Problem(f"p{n}", text, float(n)) for n, text in enumerate(texts)]
    student = scratch_student(texts, n_layer=1, d_model=16, n_head=2, d_ff=32)
    s = {**SETTINGS, "problems_per_step": 4, "group_size": 3, "seed": 7}
    grpo = objective("grpo", student.model, 1)
    grpo.bind(student, None, problems)
    items = grpo.make_items(student, [Record(p.problem_id, p.text, []) for p in problems])
    data = EpisodeDataModule(items, items, student.pad_id, batch_size=4, seed=7)
    ours = [[int(i) for i in b["problem_index"]] for b in itertools.islice(iter(data.train_dataloader()), 12)]
    order = batch_order(student, problems, 12, s)
    sampler = RepeatSampler(order, mini_repeat_count=3, batch_size=4, repeat_count=1, shuffle=False, seed=7)
    rows = [order[i] for i in sampler]
    trls = [sorted(set(rows[k : k + 12])) for k in range(0, len(rows), 12)]
    assert [sorted(b) for b in ours] == trls and len(set(map(tuple, trls))) > 1
