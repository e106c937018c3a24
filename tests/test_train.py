"""The main job end to end with a shrunken config, and evaluation of what it saved."""

import json
from unittest.mock import ANY

import pytest
import torch
from conftest import compose_config, objective

from distill import evaluate, train
from distill.training.selection import select_records, split_by_problem

SHRINK = [
    "student=tiny",
    "dataset.sizes.train=120",
    "dataset.sizes.validation=20",
    "dataset.sizes.test=40",
    "data.samples_per_problem=2",
    "data.max_val_problems=20",
    "trainer.max_steps=30",
    "trainer.val_check_interval=15",
    "algorithm.module.warmup_steps=5",
    "trainer.enable_progress_bar=false",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    # the main job as it is (Filtered BC from scratch), shrunk
    cfg = compose_config(
        "train", SHRINK + ["logger=csv", f"stage_cache={out}/stages", "eval.also_splits=[ood]", "dataset.sizes.ood=16"]
    )
    return cfg, out, train.run(cfg, out)


def test_main_job_writes_results(trained):
    cfg, out, results = trained
    on_disk = json.loads((out / "results.json").read_text())
    for key in [
        "accuracy",
        "accuracy_ci95",
        "mean_subquestions",
        "usefulness_rate",
        "params",
        "latency_ms_per_problem",
        "peak_memory_mb",
    ]:
        assert key in on_disk["student"], key
    assert set(on_disk["teacher"]) >= {"accuracy", "mean_subquestions"}
    assert on_disk["gap"] == pytest.approx(on_disk["teacher"]["accuracy"] - on_disk["student"]["accuracy"])
    lo, hi = on_disk["student"]["accuracy_ci95"]
    assert lo <= on_disk["student"]["accuracy"] <= hi
    assert on_disk["config"]["student"]["name"] == "scratch-tiny"
    assert on_disk["train"]["steps"] == 30
    # from scratch, with the tiny student's recipe batch: no first stage
    assert on_disk["train"]["batch_size"] == cfg.recipe.batch_size == 8 and "pretrain" not in on_disk
    assert (out / "student" / "distill_student.json").exists()
    assert len((out / "eval_records.jsonl").read_text().splitlines()) == 40
    assert (out / "logs").exists()  # the CSV logger wrote its metrics
    # world v2's honest rows: both rows' selectors over 4 samples, and the baselines (gold is exact)
    assert on_disk["teacher"]["selectors"]["n"] == on_disk["student"]["selectors"]["n"] == 4
    from distill.synthetic.teacher import SURFACE_RULES

    rules = {f"rule_{name}" for name in SURFACE_RULES}
    assert set(on_disk["baselines"]) == {"rule", "gold", "none"} | rules and on_disk["baselines"]["gold"] == 1.0
    assert on_disk["baselines"]["rule"] == max(on_disk["baselines"][r] for r in rules)  # the best surface rule
    assert on_disk["baselines"]["none"] == 0.0  # the k = 1 answerer alone solves nothing


def test_evaluate_reproduces_the_saved_accuracy(trained, compose_cfg, tmp_path):
    cfg, out, results = trained
    overrides = [o for o in SHRINK if o.startswith("dataset.")] + ["dataset.sizes.ood=16"]
    ecfg = compose_cfg("evaluate", [f"ckpt_path={out}"] + overrides)
    again = evaluate.run(ecfg, tmp_path)
    assert again["setting_mismatch"] == []
    assert again["student"]["accuracy"] == results["student"]["accuracy"]
    assert again["teacher"]["accuracy"] == results["teacher"]["accuracy"]
    a = [json.loads(line)["subquestions"] for line in (out / "eval_records.jsonl").read_text().splitlines()]
    b = [json.loads(line)["subquestions"] for line in (tmp_path / "eval_records.jsonl").read_text().splitlines()]
    assert a == b


@pytest.mark.parametrize(
    "change,difference",
    [
        (["seed=1"], "dataset.seed: 0 -> 1"),
        (["answerer.k=2"], "answerer.k: 1 -> 2"),
        (["dataset.world.n_names=40"], "dataset.world.n_names: 320 -> 40"),
    ],
)
def test_evaluate_refuses_settings_other_than_the_runs_unless_allowed(
    trained, compose_cfg, tmp_path, change, difference
):
    from distill.core.errors import UsageError

    cfg, out, results = trained
    overrides = (
        [f"ckpt_path={out}", "dataset.sizes.ood=16", "eval.samples=0", "eval.teacher_samples=1"]
        + [o for o in SHRINK if o.startswith("dataset.")]
        + change
    )
    with pytest.raises(UsageError, match="settings differ from the run's .*" + difference.replace(".", r"\.")):
        evaluate.run(compose_cfg("evaluate", overrides), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    allowed = evaluate.run(compose_cfg("evaluate", overrides + ["allow_mismatch=true"]), tmp_path / "allowed")
    assert any(d.startswith(difference) for d in allowed["setting_mismatch"])


def test_also_splits_measure_the_same_student_as_evaluate_does(trained, compose_cfg, tmp_path):
    cfg, out, results = trained
    ood = json.loads((out / "results.json").read_text())["splits"]["ood"]
    assert ood["student"]["n_problems"] == 16
    overrides = [o for o in SHRINK if o.startswith("dataset.")] + ["dataset.sizes.ood=16", "dataset.split=ood"]
    again = evaluate.run(compose_cfg("evaluate", [f"ckpt_path={out}"] + overrides), tmp_path)
    assert again["student"]["accuracy"] == ood["student"]["accuracy"]
    assert again["teacher"]["accuracy"] == ood["teacher"]["accuracy"]
    assert ood["gap"] == pytest.approx(ood["teacher"]["accuracy"] - ood["student"]["accuracy"])
    # longer chains: every ood problem needs more steps than any test problem
    assert min(map(int, ood["student"]["accuracy_by_steps"])) > max(map(int, results["student"]["accuracy_by_steps"]))


def test_tiny_fit_lowers_loss_and_changes_parameters(compose_cfg, tmp_path):
    from hydra.utils import instantiate

    from distill.core.parts import build_parts
    from distill.training.episodes import EpisodeDataModule
    from distill.training.selection import training_records

    cfg = compose_cfg("train", SHRINK)
    parts = build_parts(cfg)
    records = training_records(None, parts, cfg.data.samples_per_problem, tmp_path / "teacher_records.jsonl")
    student = instantiate(cfg.student)(
        corpus=[r.problem for r in records] + [q for r in records for q in r.subquestions]
    )
    module = objective("bc", student.model, 40, lr=3e-3, warmup_steps=1)
    items = module.make_items(student, records)
    batch = EpisodeDataModule(items, items, student.pad_id, batch_size=32).train_dataloader().collate_fn(items[:64])
    before_loss = module.loss(batch).item()
    before = [p.detach().clone() for p in student.model.parameters()]
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        max_steps=40,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(module, EpisodeDataModule(items, items, student.pad_id, batch_size=16))
    assert module.loss(batch).item() < before_loss - 0.5
    assert all(not torch.equal(a, b) for a, b in zip(before, student.model.parameters()))


@pytest.mark.parametrize("precision,fused", [("32-true", True), ("bf16-mixed", False)])
def test_optimizer_is_fused_except_under_autocast(tmp_path, precision, fused):
    """The fused AdamW kernel in full precision; under mixed precision Lightning cannot clip a fused
    optimizer's gradients, so the unfused one, and training with clipping runs."""
    import pytorch_lightning as pl
    from conftest import named_bandit_records, scratch_student

    records = named_bandit_records()
    student = scratch_student(
        [r.problem for r in records] + [q for r in records for q in r.subquestions],
        n_layer=1,
        d_model=16,
        n_head=2,
        d_ff=32,
    )
    module = objective("bc", student.model, 3)
    from distill.training.episodes import EpisodeDataModule

    items = module.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
        precision=precision,
        gradient_clip_val=1.0,
    )
    trainer.fit(module, EpisodeDataModule(items, items, student.pad_id, batch_size=8))
    assert trainer.global_step == 3
    assert trainer.optimizers[0].defaults["fused"] is fused


def test_wandb_logger_runs_offline(compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_cfg(
        "train", SHRINK + ["logger=wandb", "trainer.max_steps=4", "trainer.val_check_interval=2", "stage_cache=null"]
    )
    results = train.run(cfg, tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
    assert "accuracy" in results["student"]


def test_filter_that_keeps_nothing_is_a_clear_error(compose_cfg, tmp_path):
    from distill.core.records import Record, write_records

    wrong = tmp_path / "wrong.jsonl"  # every decomposition's answer was wrong: Filtered BC keeps none
    write_records(wrong, [Record(f"p{i}", "Ann has 3 apples.", ["How many?"], 3.0, 0.0, [1.0]) for i in range(5)])
    cfg = compose_cfg("train", SHRINK + ["logger=none", "algorithm=filtered_bc", f"data.records_path={wrong}"])
    with pytest.raises(ValueError, match="kept none of 5 records"):
        train.run(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "student").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("algorithm.min_correctness=2.0", r"algorithm.min_correctness: must be a number in \[0, 1\]"),
        ("algorithm.init_from=''", "algorithm.init_from: must be null"),
        ("algorithm.module._target_=distill.algorithms.bc.Nope", "algorithm.module._target_=.* cannot be imported"),
        ("algorithm.module._target_=distill.training.fitting.FitSettings", "is not an Objective: missing student_only"),
        ("+algorithm.batch=3", r"algorithm: unknown key\(s\) batch; valid: batch_size"),
        ("algorithm.pretrain.steps=0", "algorithm.pretrain.steps: must be a positive integer"),
    ],
)
def test_algorithm_spec_refuses_bad_config_before_any_work(compose_cfg, tmp_path, override, message):
    cfg = compose_cfg("train", SHRINK + ["logger=none", "algorithm=dpo", override])
    with pytest.raises(ValueError, match=message):
        train.run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the folder, the teacher run or any training


def test_algorithm_spec_of_each_config(compose_cfg):
    """The spec says what training does with each algorithm: which runs share the stage cache as a stage."""
    from distill.training.spec import AlgorithmSpec

    specs = {
        name: AlgorithmSpec.from_config(compose_cfg("train", [f"algorithm={name}"]).algorithm)
        for name in ("bc", "filtered_bc", "awr", "dpo", "ilql")
    }
    assert {n for n, s in specs.items() if s.shares_stage} == {"bc", "filtered_bc", "awr"}
    assert specs["dpo"].batch_size == 16 and specs["dpo"].pretrain.name == "filtered_bc"
    assert specs["ilql"].pretrain.name == "bc" and not specs["ilql"].objective_class.student_only
    # a from-scratch BC run and a BC first stage of the same steps are one stage-cache key
    steps = specs["ilql"].pretrain.steps
    assert specs["bc"].stage_key(steps) == specs["ilql"].pretrain.stage_key(steps)
    assert specs["filtered_bc"].stage_key(steps) == specs["dpo"].pretrain.stage_key(steps)


def test_filtered_bc_drops_exactly_the_failed_decompositions():
    from distill.core.records import Record

    records = [Record(f"p{i}", "P?", ["q"], 1.0, float(i % 3 != 0), [1.0, 0.5][: 1 + i % 2]) for i in range(30)]
    kept = select_records(records, min_correctness=1.0, min_usefulness=None)
    assert [r.problem_id for r in kept] == [r.problem_id for r in records if r.answer_correctness == 1.0]
    both = select_records(records, min_correctness=1.0, min_usefulness=0.9)
    assert all(sum(r.usefulness) / len(r.usefulness) >= 0.9 and r.answer_correctness == 1.0 for r in both)
    assert len(both) < len(kept)
    assert select_records(records, None, None) == records


def test_question_usefulness_filter_drops_records_with_any_useless_subquestion(compose_cfg):
    from distill.core.errors import UsageError
    from distill.core.records import Record
    from distill.training.spec import AlgorithmSpec

    scores = [[1.0, 1.0], [1.0, 0.0], [1 / 3, 2 / 3], [0.0, 1.0, 1.0], [], [2 / 3]]
    records = [Record(f"p{i}", "P?", ["q"] * len(u), 1.0, 1.0, u) for i, u in enumerate(scores)]
    kept = select_records(records, None, None, min_question_usefulness=0.3)
    assert [r.problem_id for r in kept] == ["p0", "p2", "p5"]  # [1, 0] has mean 0.5 but one useless question
    # the mean rule at the same threshold keeps the records the question rule drops
    assert [r.problem_id for r in select_records(records, None, 0.3)] == ["p0", "p1", "p2", "p3", "p5"]
    spec = AlgorithmSpec.from_config(
        compose_cfg("train", ["algorithm=filtered_bc", "algorithm.min_question_usefulness=0.34"]).algorithm
    )
    assert spec.min_question_usefulness == 0.34 and "min_question_usefulness" in spec.stage_key(10)
    with pytest.raises(UsageError, match="min_question_usefulness"):
        AlgorithmSpec.from_config(
            compose_cfg("train", ["algorithm=filtered_bc", "algorithm.min_question_usefulness=2"]).algorithm
        )


def test_held_out_problems_keep_all_their_samples():
    from distill.core.records import Record

    records = [Record(f"p{i // 4}", "P?", ["q"], sample_index=i % 4) for i in range(400)]
    fit, held = split_by_problem(records, 0.1, seed=0)
    assert len(held) == 40 and not {r.problem_id for r in fit} & {r.problem_id for r in held}


@pytest.mark.parametrize(
    "experiment",
    [
        "synthetic_bc",
        "synthetic_fbc",
        "synthetic_dpo",
        "synthetic_ilql_full",
        "synthetic_ilql_sparse",
        "synthetic_grpo",
    ],
)
def test_experiment_smoke(experiment, tmp_path):
    """Every synthetic experiment runs end to end, shrunk (smollm2_quick has its own slow test)."""
    cfg = compose_config(
        "train",
        [f"+experiment={experiment}"]
        + SHRINK
        + ["logger=none", "trainer.max_steps=6", "trainer.val_check_interval=3", "stage_cache=null"],
    )
    if cfg.algorithm.get("pretrain"):
        cfg.algorithm.pretrain.steps = 6
    results = train.run(cfg, tmp_path)
    assert results["train"]["steps"] == 6
    assert 0.0 <= results["student"]["accuracy"] <= 1.0
    if cfg.algorithm.get("init_from") == "stage":
        assert results["pretrain"]["steps"] == 6 and (tmp_path / "stage" / "student").exists()
    if cfg.algorithm.name == "dpo":  # the first stage trains with the size's recipe batch, DPO with its own
        assert results["pretrain"]["batch_size"] == cfg.recipe.batch_size == 8 and results["train"]["batch_size"] == 16
    if cfg.algorithm.name == "ilql":
        assert set(results["student_variants"]) == {"beta=1", "beta=0", "beta=4"}
        assert (tmp_path / "student" / "ilql_value_model.pt").exists()
        # evaluate reloads the value model and decodes value-guided
        ecfg = compose_config(
            "evaluate", [f"ckpt_path={tmp_path}", "eval.betas=[1.0]"] + [o for o in SHRINK if o.startswith("dataset.")]
        )
        again = evaluate.run(ecfg, tmp_path / "eval")
        assert again["student"]["accuracy"] == results["student"]["accuracy"]


def test_evaluate_decodes_with_the_saved_value_model_not_greedy(tmp_path):
    """A value model whose target heads push EOS hard: reloaded by `evaluate`, value-guided decoding must
    stop at once (no sub-questions), which greedy decoding of the same student does not."""
    cfg = compose_config(
        "train",
        ["+experiment=synthetic_ilql_full"]
        + SHRINK
        + [
            "logger=none",
            "trainer.max_steps=4",
            "trainer.val_check_interval=2",
            "stage_cache=null",
            "algorithm.pretrain.steps=40",
            "eval.betas=[0.0]",
        ],
    )
    results = train.run(cfg, tmp_path / "run")
    assert results["student"]["mean_subquestions"] > 0  # beta 0: the policy's greedy decoding asks something
    path = tmp_path / "run" / "student" / "ilql_value_model.pt"
    state = torch.load(path, weights_only=True)
    eos = json.loads((tmp_path / "run" / "student" / "tokenizer_config.json").read_text()).get("eos_token")
    from transformers import AutoTokenizer

    eos_id = AutoTokenizer.from_pretrained(tmp_path / "run" / "student").convert_tokens_to_ids(eos)
    for key in [k for k in state["heads"] if k.startswith("target_q.") and k.endswith(".2.bias")]:
        state["heads"][key][eos_id] = 1e4
    torch.save(state, path)
    ecfg = compose_config(
        "evaluate",
        [f"ckpt_path={tmp_path / 'run'}", "eval.betas=[1.0]"] + [o for o in SHRINK if o.startswith("dataset.")],
    )
    guided = evaluate.run(ecfg, tmp_path / "eval")
    assert guided["decoding"] == "beta=1" and guided["student"]["mean_subquestions"] == 0.0


def test_a_kept_bc_stage_is_reused_with_identical_results(tmp_path):
    """The second run with the same BC stage loads it from the stage cache instead of training it, and ends
    with the same student as the first; a different seed is a different stage."""

    def run(name, seed=0):
        cfg = compose_config(
            "train",
            ["+experiment=synthetic_fbc", f"seed={seed}", f"stage_cache={tmp_path}/stages"]
            + SHRINK
            + ["logger=none", "trainer.max_steps=6", "trainer.val_check_interval=3", "algorithm.pretrain.steps=8"],
        )
        return train.run(cfg, tmp_path / name)

    first, second = run("a"), run("b")
    assert "reused_from" not in first["pretrain"] and (tmp_path / "a" / "stage" / "student").exists()
    assert second["pretrain"]["reused_from"] and not (tmp_path / "b" / "stage").exists()
    assert second["pretrain"]["steps"] == first["pretrain"]["steps"] == 8
    assert second["student"]["accuracy"] == first["student"]["accuracy"]
    a = (tmp_path / "a" / "eval_records.jsonl").read_text()
    assert a == (tmp_path / "b" / "eval_records.jsonl").read_text()
    run("c", seed=1)
    assert len(list((tmp_path / "stages").glob("stage-*"))) == 2


def test_a_bc_run_is_the_bc_stage_of_the_runs_that_start_from_it(tmp_path):
    """A from-scratch BC run keeps its student as the BC first stage of its steps: Filtered BC and ILQL
    starting from that stage load it (bitwise the BC run's student) instead of training it, and a second
    BC run loads it too, with the same results; Filtered BC from scratch is a different stage."""
    from safetensors.torch import load_file

    def run(name, experiment, *more):
        cfg = compose_config(
            "train",
            [f"+experiment={experiment}", f"stage_cache={tmp_path}/stages"]
            + SHRINK
            + ["logger=none", "trainer.val_check_interval=4", "recipe.steps=8", "recipe.warmup_steps=5", *more],
        )
        return train.run(cfg, tmp_path / name)

    bc = run("bc", "synthetic_bc", "trainer.max_steps=8")
    assert "reused_from" not in bc["train"] and bc["train"]["steps"] == 8
    fbc = run("fbc", "synthetic_fbc", "trainer.max_steps=2")
    assert fbc["pretrain"]["reused_from"] and not (tmp_path / "fbc" / "stage").exists()
    assert fbc["pretrain"]["best_val_accuracy"] == bc["train"]["best_val_accuracy"]
    kept = load_file(next((tmp_path / "stages").glob("stage-*/student/model.safetensors")))
    trained = load_file(tmp_path / "bc" / "student" / "model.safetensors")
    assert all(torch.equal(kept[k], trained[k]) for k in trained)
    again = run("bc_again", "synthetic_bc", "trainer.max_steps=8")
    assert again["train"]["reused_from"] and again["student"]["accuracy"] == bc["student"]["accuracy"]
    assert (tmp_path / "bc" / "eval_records.jsonl").read_text() == (
        tmp_path / "bc_again" / "eval_records.jsonl"
    ).read_text()
    run("fbc_scratch", "synthetic_fbc_scratch", "trainer.max_steps=8")
    assert len(list((tmp_path / "stages").glob("stage-*"))) == 2


def test_a_first_stage_validates_at_its_own_interval_and_is_the_from_scratch_run(tmp_path):
    """GRPO validates every 2 steps, its first stage at its own interval (``algorithm.pretrain.val_check_interval``):
    a from-scratch Filtered BC run validating at that interval is that stage, so GRPO loads it; left to the
    run's interval, the stage would be another training (validation picks its checkpoint)."""

    def run(name, experiment, *more):
        cfg = compose_config(
            "train",
            [f"+experiment={experiment}", f"stage_cache={tmp_path}/stages"]
            + SHRINK
            + ["logger=none", "recipe.steps=8", "recipe.warmup_steps=5", *more],
        )
        return train.run(cfg, tmp_path / name)

    fbc = run("fbc", "synthetic_fbc_scratch", "trainer.max_steps=8", "trainer.val_check_interval=4")
    grpo = run(
        "grpo",
        "synthetic_grpo",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "algorithm.pretrain.val_check_interval=4",
    )
    assert grpo["pretrain"]["reused_from"] and grpo["pretrain"]["val_curve"] == fbc["train"]["val_curve"] == [
        [4, ANY],
        [8, ANY],
    ]
    assert grpo["train"]["val_curve"][0][0] == 2
    # the held-out loss beside each validation, where the objective has one (Filtered BC does, GRPO does not)
    losses = fbc["train"]["val_loss_curve"]
    assert [s for s, _ in losses] == [4, 8] and all(v > 0 for _, v in losses)
    assert grpo["train"]["val_loss_curve"] == []
    other = run(
        "grpo_own",
        "synthetic_grpo",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "algorithm.pretrain.val_check_interval=2",
    )
    assert "reused_from" not in other["pretrain"] and [s for s, _ in other["pretrain"]["val_curve"]] == [2, 4, 6, 8]


def test_runs_that_start_together_train_a_shared_stage_once(tmp_path):
    """The second of two concurrent runs of the same stage waits for the first, then loads what it kept."""
    import threading
    import time

    from conftest import scratch_student

    from distill.training.stages import shared_stage

    calls, started = [], threading.Event()

    def train_stage():
        calls.append(1)
        started.set()
        time.sleep(0.5)  # the other run asks for the stage meanwhile
        return scratch_student(["a b c d", "e f g"], n_layer=1, d_model=16, n_head=2, d_ff=32), {"steps": 3}

    results = {}
    first = threading.Thread(target=lambda: results.update(first=shared_stage(tmp_path / "stage-x", train_stage)))
    first.start()
    started.wait()
    results["second"] = shared_stage(tmp_path / "stage-x", train_stage)
    first.join()
    assert len(calls) == 1
    assert "reused_from" not in results["first"][1] and results["second"][1]["reused_from"] == str(tmp_path / "stage-x")
    assert results["second"][1]["steps"] == 3


def test_evaluate_on_gsm8k_with_llm_answerer_and_teacher(trained, compose_cfg, tmp_path, data_dir, monkeypatch):
    from distill.llm.local_server import serve

    server = serve()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    _, out, _ = trained
    try:
        ecfg = compose_cfg(
            "evaluate",
            [
                f"ckpt_path={out}",
                "dataset=gsm8k",
                "dataset.limit=5",
                "teacher=anthropic",
                "allow_mismatch=true",
                f"paths.output_dir={tmp_path}",
                f"paths.data_dir={data_dir}",
            ],
        )
        results = evaluate.run(ecfg, tmp_path / "eval")
    finally:
        server.shutdown()
    assert results["student"]["n_problems"] == results["teacher"]["n_problems"] == 5
    assert results["answerer"] == "claude-haiku-4-5" and results["student"]["answerer_errors"] == 0
    # the LLM row: the teacher's own decompositions (two sub-questions from the test server), with their cost
    assert results["teacher"]["mean_subquestions"] == 2.0 and results["teacher"]["usage_per_problem"]["cost_usd"] > 0
    records = [json.loads(line) for line in (tmp_path / "eval" / "eval_records.jsonl").read_text().splitlines()]
    assert all(r["answerer_output"].startswith("A1:") or "Final answer" in r["answerer_output"] for r in records)


@pytest.mark.parametrize("damage", ["stage_json", "weights"])
def test_a_damaged_stage_cache_entry_is_named_set_aside_and_trained_afresh(tmp_path, capsys, damage):
    from conftest import scratch_student

    from distill.training.stages import shared_stage

    calls = []

    def train_stage():
        calls.append(1)
        return scratch_student(["How many apples does Anna have?"]), {"steps": 3}

    cache = tmp_path / "stages" / "stage-x"
    shared_stage(cache, train_stage)
    if damage == "stage_json":
        (cache / "stage.json").write_text('{"steps": 3')
    else:
        weights = cache / "student" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    student, info = shared_stage(cache, train_stage)
    assert len(calls) == 2 and info == {"steps": 3} and "reused_from" not in info
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "damaged" in line]  # (beside the weights' progress bars)
    assert len(warning) == 1 and warning[0].startswith(f"warning: stage cache entry {cache} is damaged")
    assert len(list(cache.parent.glob("stage-x.damaged-*"))) == 1
    assert (
        shared_stage(cache, train_stage)[1]["reused_from"] == str(cache) and len(calls) == 2
    )  # the new entry is whole
