"""Every user mistake of issue 27, run as a user runs it (a subprocess): a non-zero exit and one line on stderr
naming the key or file and what is valid, no traceback, and no folder or work started."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

A_RUN = ROOT / "experiments" / "human_review_v1" / "runs" / "none_seed1"  # a committed run's results.json


def run(args, tmp_path, env=None):
    env = {**os.environ, "DISTILL_OUTPUT_DIR": str(tmp_path / "outputs"), "HYDRA_FULL_ERROR": "", **(env or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def one_line_error(done, message):
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # the last line, and the only error line (progress bars and Lightning's seed note may come before it)
    assert lines[-1].startswith("error: ") and sum(line.startswith("error") for line in lines) == 1, done.stderr[-2000:]
    assert message in lines[-1], lines[-1]
    assert "Traceback" not in done.stdout + done.stderr


# one subprocess per command proves the check is wired into it; the other values are checked in-process below
@pytest.mark.parametrize(
    "args,message",
    [
        (["distill.generate", "budget.max_usd=0"], "budget.max_usd must be a number > 0 or null, got 0"),
        (["distill.train", "trainer.max_steps=abc"], "trainer.max_steps must be a positive integer, got 'abc'"),
        (
            ["distill.evaluate", "ckpt_path=TMP", "eval.batch_size=0"],
            "eval.batch_size must be a positive integer, got 0",
        ),
        (["distill.cascade"], "ckpt_path is required (set it on the command line: ckpt_path=...)"),
        (["distill.bench", "--problems", "-5"], "--problems: must be a positive integer, got -5"),
        (["distill.report", "TMP", "--budget-share", "-1"], "--budget-share: must be a number in [0, 1], got -1"),
        (["distill.review", "simulate", "TMP", "--n", "-5"], "--n: must be a positive integer, got -5"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_work(tmp_path, args, message):
    done = run([str(tmp_path) if a == "TMP" else a.replace("=TMP", f"={tmp_path}") for a in args], tmp_path)
    one_line_error(done, message)
    assert not (tmp_path / "outputs").exists()  # no run folder was made


@pytest.mark.parametrize(
    "command,overrides,message",
    [
        ("train", ["data.val_fraction=1.5"], "data.val_fraction must be a number in (0, 0.5], got 1.5"),
        ("train", ["algorithm.module.lr=fast"], "algorithm.module.lr must be a number, got 'fast'"),
        ("train", ["+algorithm.module.learning_rate=0.1"], "algorithm.module.learning_rate is not a setting of "),
        ("train", ["+student.n_layers=2"], "student.n_layers is not a setting of "),
        ("train", ["dataset.sizes.train=-10"], "dataset.sizes.train must be a positive integer, got -10"),
        ("train", ["eval.temperature=0"], "eval.temperature must be a number > 0, got 0"),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.group_size=1"],
            "algorithm.module.group_size must be an integer >= 2, got 1",
        ),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.num_iterations=0"],
            "algorithm.module.num_iterations must be a positive integer, got 0",
        ),
        ("generate", ["answerer.k=two"], "answerer.k must be a positive integer, got 'two'"),
        ("cascade", ["ckpt_path=.", "cascade.target.value=-1"], "cascade.target.value must be a number in [0, 1]"),
        (
            "cascade",
            ["ckpt_path=.", "cascade.target.kind=budget", "cascade.target.value=-1"],
            "cascade.target.value must be a number >= 0, got -1 (cascade.target.kind=budget)",
        ),
        ("cascade", ["ckpt_path=.", "cascade.n_samples=-3"], "cascade.n_samples must be an integer >= 0, got -3"),
        ("cascade", ["ckpt_path=.", "cascade.n_points=1"], "cascade.n_points must be an integer >= 2, got 1"),
        (
            "cascade",
            ["ckpt_path=.", "cascade.target.kind=cheap"],
            "cascade.target.kind must be one of accuracy, deferred, budget",
        ),
        ("evaluate", ["ckpt_path=.", "allow_mismatch=yes"], "allow_mismatch must be one of true, false; got 'yes'"),
        ("train", ["answerer.distraction=1.5"], "answerer.distraction must be a number in [0, 1], got 1.5"),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.loss_type=ppo"],
            "algorithm.module.loss_type must be one of grpo, dr_grpo, dapo, rloo, grpo_loo; got 'ppo'",
        ),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.beta=-1"],
            "algorithm.module.beta must be a number >= 0, got -1",
        ),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.temperature=0"],
            "algorithm.module.temperature must be a number > 0, got 0",
        ),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.refill_rounds=2", "algorithm.module.dynamic_sampling=false"],
            "algorithm.module.refill_rounds refills the groups dynamic sampling drops",
        ),
        (
            "train",
            ["algorithm=grpo", "algorithm.module.step_credit=0.5", "algorithm.module.loss_type=rloo"],
            "algorithm.module.step_credit gives each token its own advantage: loss_type=rloo has one per sequence",
        ),
        ("train", ["answerer.noise=per_word"], "answerer.noise must be one of decomposition, question"),
        ("train", ["algorithm=grpo", "algorithm.module.credit_draws=0"], "algorithm.module.credit_draws must be a"),
        (
            "train",
            ["algorithm=dpo", "algorithm.module.loss_type=grpo"],
            "algorithm.module.loss_type must be one of sigmoid, ipo; got 'grpo'",
        ),
        ("train", ["answerer.k=0"], "answerer.k must be a positive integer, got 0"),
        ("train", ["dataset.world.n_names=0"], "dataset.world: n_names in 2..320"),
        ("train", ["dataset.world.max_steps=1"], "dataset.world: need 1 <= min_steps <= max_steps <= 10, got 2..1"),
        (
            "train",
            ["world=v1", "dataset.world.max_steps=9"],
            "dataset: need 1 <= min_steps <= max_steps <= 8, got 2..9",
        ),
        ("train", ["dataset.world.window=2"], "dataset.world: interleave and window order facts that are not shuffled"),
        ("generate", ["teacher.skip=2"], "teacher: teacher rates must lie in [0, 1]"),
    ],
)
def test_each_bad_value_is_named_with_what_is_valid(command, overrides, message):
    from conftest import compose_config

    from distill.core.config_checks import check_config
    from distill.core.errors import UsageError

    with pytest.raises(UsageError) as error:
        check_config(compose_config(command, overrides))
    assert str(error.value).startswith(message.split(" must ")[0]) and message in str(error.value)


@pytest.mark.parametrize("command", ["train", "generate", "evaluate", "cascade"])
def test_the_shipped_configs_pass_the_checks(command):
    from conftest import compose_config

    from distill.core.config_checks import config_problems

    assert config_problems(compose_config(command, ["ckpt_path=."] if command in ("evaluate", "cascade") else [])) == []


def test_a_world_bad_value_is_one_line_and_leaves_no_folder(tmp_path):
    one_line_error(run(["distill.train", "dataset.world.n_names=0"], tmp_path), "dataset.world: n_names in 2..320")
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "overrides,refused",
    [
        (["world=v1"], False),
        (["dataset=synthetic_v1", "teacher=synthetic_v1"], False),  # the two-override form of world v1
        (["dataset=synthetic_v1"], True),  # world v1's problems, world v2's roles
        (["dataset=synthetic_v1", "allow_mixed_world=true"], False),
        (["world=v1", "teacher=rule"], True),  # the rule's answerer is world v2's
        (["world=v1", "teacher=rule", "answerer=synthetic_v1", "judge=synthetic_v1"], False),
        (["dataset=gsm8k", "teacher=anthropic"], False),  # no synthetic world: nothing to match
    ],
)
def test_a_data_set_of_one_world_with_roles_of_another_is_refused(overrides, refused):
    from conftest import CONF
    from hydra import compose, initialize_config_dir

    from distill.core.config_checks import config_problems

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)  # the group choices live there
    problems = [p for p in config_problems(cfg) if "world" in p]
    assert bool(problems) == refused, problems
    if refused:
        assert "pick both with world=v1" in problems[0]


def test_world_v1_is_the_two_override_form():
    from conftest import CONF
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        one = compose("train", overrides=["world=v1"])
        two = compose("train", overrides=["dataset=synthetic_v1", "teacher=synthetic_v1"])
    assert OmegaConf.to_container(one) == OmegaConf.to_container(two)
    assert one.dataset.world.max_steps == 4 and one.answerer.distraction == 0.0


def test_a_folder_that_does_not_exist_is_named_and_not_created(tmp_path):
    missing = tmp_path / "does" / "not" / "exist"
    one_line_error(
        run(["distill.cascade", f"ckpt_path={missing}"], tmp_path),
        f"ckpt_path={missing}: no such run or student folder",
    )
    one_line_error(run(["distill.report", str(missing)], tmp_path), f"no such folder: {missing}")
    one_line_error(run(["distill.review", "stats", str(missing)], tmp_path), f"{missing}: no such run folder")
    assert not (tmp_path / "does").exists()


def test_an_empty_records_file_is_named(tmp_path):
    empty = tmp_path / "records.jsonl"
    empty.write_text("")
    one_line_error(
        run(["distill.train", f"data.records_path={empty}", "logger=none"], tmp_path),
        f"{empty}: the records file holds no records",
    )


def test_a_missing_api_key_is_one_line(tmp_path, data_dir):
    done = run(
        ["distill.generate", "teacher=anthropic", "dataset=gsm8k", "dataset.limit=2"],
        tmp_path,
        env={"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": "", "DISTILL_DATA_DIR": str(data_dir)},
    )
    one_line_error(done, "no Anthropic API key; set ANTHROPIC_API_KEY")


def test_hydra_full_error_shows_the_traceback(tmp_path):
    done = run(["distill.train", "trainer.max_steps=abc"], tmp_path, env={"HYDRA_FULL_ERROR": "1"})
    assert done.returncode != 0 and "Traceback" in done.stderr and "UsageError" in done.stderr


def test_the_report_names_a_corrupt_results_file_and_goes_on(tmp_path):
    good, bad = tmp_path / "runs" / "good", tmp_path / "runs" / "bad"
    shutil.copytree(A_RUN, good, ignore=shutil.ignore_patterns("student", "*.jsonl", "wandb"))
    bad.mkdir()
    (bad / "results.json").write_text('{"student": {"accuracy": 0.5')
    done = run(["distill.report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-wandb"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped")]
    assert skipped == [f"skipped {bad / 'results.json'}: not valid JSON (Expecting ',' delimiter, line 1)"]
    assert "1 runs, 1 missing or failed" in done.stdout
    assert f"{bad / 'results.json'}: skipped" in (tmp_path / "report" / "report.md").read_text()


def test_every_one_line_error_is_listed_in_the_troubleshooting_docs():
    """The docs' troubleshooting table names each config key this file checks."""
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for key in [
        "budget.max_usd",
        "data.val_fraction",
        "trainer.max_steps",
        "algorithm.module",
        "dataset.sizes",
        "eval.batch_size",
        "ckpt_path",
        "cascade.target.value",
        "cascade.n_samples",
        "cascade.n_points",
        "--budget-share",
        "--n",
        "ANTHROPIC_API_KEY",
        "allow_mismatch",
        "last.ckpt",
        "stage cache entry",
        "records file holds no records",
        "HYDRA_FULL_ERROR",
        "--debug",
        "Host",
    ]:
        assert key in text, key


def test_the_one_line_helpers_exit_2_and_keep_the_traceback_with_debug(capsys):
    from distill.core.errors import UsageError, one_line_errors

    with pytest.raises(SystemExit) as stop, one_line_errors():
        raise UsageError("x.y must be positive")
    assert stop.value.code == 2 and capsys.readouterr().err == "error: x.y must be positive\n"
    with pytest.raises(UsageError), one_line_errors(debug=True):
        raise UsageError("shown with its traceback")
    with pytest.raises(KeyError), one_line_errors():  # a bug is not a user error: its traceback stays
        raise KeyError("bug")


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")))
def test_every_experiment_passes_the_checks(experiment):
    from conftest import compose_config

    from distill.core.config_checks import config_problems

    assert config_problems(compose_config("train", [f"+experiment={experiment}"])) == []
