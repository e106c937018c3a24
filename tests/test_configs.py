"""Every config group choice and experiment file composes into a buildable config."""

import itertools
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["dataset", "teacher", "answerer", "judge", "student", "recipe", "algorithm", "reward", "trainer", "logger"]


def choices(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,choice", [(g, c) for g in GROUPS for c in choices(g)])
def test_every_choice_composes(compose_cfg, group, choice):
    cfg = compose_cfg("train", [f"{group}={choice}"])
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


@pytest.mark.parametrize("world", choices("world"))
def test_every_world_composes_and_passes_the_checks(world):
    """A world sets data set, teacher, answerer and judge together: no mixed world, every value in range."""
    from conftest import CONF as conf_dir
    from hydra import compose, initialize_config_dir

    from distill.core.config_checks import config_problems

    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = compose("train", overrides=[f"world={world}"], return_hydra_config=True)
    assert config_problems(cfg) == []
    choices_made = cfg.hydra.runtime.choices
    assert {choices_made[g] for g in ("dataset", "teacher", "answerer", "judge")} == {
        "synthetic" if world == "v2" else f"synthetic_{world}"
    }


@pytest.mark.parametrize("name", choices("experiment"))
def test_every_experiment_composes(compose_cfg, name):
    cfg = compose_cfg("train", [f"+experiment={name}"])
    OmegaConf.to_container(cfg, resolve=True)


def test_unknown_student_lists_valid_options(compose_cfg):
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg("train", ["student=huge"])
    assert "Available options" in str(err.value.__cause__ or err.value) or "small" in str(err.value)


def test_evaluate_requires_ckpt_path(compose_cfg):
    cfg = compose_cfg("evaluate")
    assert OmegaConf.is_missing(cfg, "ckpt_path")


def _targets(node, found):
    """Every (``_target_``, its config node) in a composed config, nested ones included."""
    if OmegaConf.is_dict(node):
        if "_target_" in node and str(node._target_).startswith("distill."):
            found.append((node._target_, node))
        for key in node:
            _targets(node[key], found)
    return found


# targets whose hyper-parameters live only in conf/ (the objectives and the from-scratch student sizes)
YAML_ONLY = ("distill.algorithms.", "distill.students.scratch.")


@pytest.mark.parametrize("group,choice", [(g, c) for g in GROUPS for c in choices(g)])
def test_defaults_have_one_source(compose_cfg, group, choice):
    """A value set in conf/ has no second default in code that could disagree: objectives and students
    have none in code at all; library classes usable from Python keep theirs, equal to the YAML's."""
    import dataclasses
    import inspect

    from hydra.utils import get_object

    own_defaults = OmegaConf.load(CONF / group / f"{choice}.yaml").get("defaults") or []
    if any(isinstance(entry, str) and entry in choices(group) for entry in own_defaults):
        pytest.skip(f"{group}/{choice} is a variant of another choice (a ladder level): its values are the variant's")
    cfg = compose_cfg("train", [f"{group}={choice}"])
    for target, node in _targets(cfg[group], []):
        params = inspect.signature(get_object(target)).parameters
        values = OmegaConf.to_container(node, resolve=True)
        for key, value in values.items():
            if key.startswith("_") or key not in params or params[key].default is inspect.Parameter.empty:
                continue
            assert not target.startswith(YAML_ONLY), f"{target}({key}=...) has a default in code; conf/ is its source"
            default = params[key].default
            if dataclasses.is_dataclass(get_object(target)) and repr(default) == "<factory>":  # a dataclass field's
                default = next(f.default_factory() for f in dataclasses.fields(get_object(target)) if f.name == key)
            default = list(default) if isinstance(default, tuple) else default
            assert default == value, (
                f"{target}: {key} defaults to {default!r} in code but {value!r} in {group}/{choice}.yaml"
            )


def test_world_knobs_agree_with_the_world_defaults(compose_cfg):
    """Each world's block in conf/dataset/ and its generator config (the library default) say the same:
    synthetic.yaml and world v2's GraphWorldConfig, synthetic_v1.yaml and world v1's WorldConfig."""
    import dataclasses

    from distill.synthetic.world import WorldConfig
    from distill.synthetic.world_v2 import GraphWorldConfig

    for dataset, config in (("synthetic", GraphWorldConfig), ("synthetic_v1", WorldConfig)):
        world = OmegaConf.to_container(compose_cfg("train", [f"dataset={dataset}"]).dataset.world)
        world.pop("_target_", None)
        defaults = dataclasses.asdict(config())
        assert {k: defaults[k] for k in world} == world, dataset


@pytest.mark.parametrize("stage", choices("stage"))
def test_every_first_stage_composes_under_every_objective_that_has_one(compose_cfg, stage):
    for algorithm in ("filtered_bc", "ilql", "dpo"):
        cfg = compose_cfg("train", [f"algorithm={algorithm}", f"stage@algorithm.pretrain={stage}"])
        pretrain = OmegaConf.to_container(cfg.algorithm.pretrain, resolve=True)
        assert pretrain["name"] == stage and pretrain["steps"] > 0 and "_target_" in pretrain["module"]


def test_every_student_has_a_recipe_and_trains_with_it(compose_cfg):
    """``recipe: ${student}``: each size's learning rate, batch, warm-up and steps reach every from-scratch
    objective and first stage, unless overridden."""
    assert set(choices("student")) <= set(choices("recipe"))  # and extra recipes (small_speedrun)
    for student in choices("student"):
        recipe = compose_cfg("train", [f"student={student}"]).recipe
        for experiment in ("synthetic_bc", "synthetic_fbc_scratch", "synthetic_awr"):
            cfg = compose_cfg("train", [f"student={student}", f"+experiment={experiment}"])
            assert cfg.algorithm.module.lr == recipe.lr and cfg.algorithm.module.warmup_steps == recipe.warmup_steps
            assert cfg.data.batch_size == recipe.batch_size and cfg.trainer.max_steps == recipe.steps
        dpo = compose_cfg("train", [f"student={student}", "algorithm=dpo"]).algorithm
        assert dpo.pretrain.steps == recipe.steps and dpo.pretrain.module.lr == recipe.lr
    # another size's recipe, or one value of it, on the command line
    cfg = compose_cfg("train", ["student=tiny", "recipe=small", "algorithm=bc", "algorithm.module.lr=0.01"])
    assert cfg.data.batch_size == OmegaConf.load(CONF / "recipe" / "small.yaml").batch_size
    assert cfg.algorithm.module.lr == 0.01
    # a fine-tuning objective keeps its own batch (the training run's data.batch_size is the recipe's)
    dpo = compose_cfg("train", ["student=tiny", "algorithm=dpo"])
    assert (
        dpo.algorithm.batch_size == 16
        and dpo.data.batch_size == OmegaConf.load(CONF / "recipe" / "tiny.yaml").batch_size
    )


def test_each_searched_recipe_is_the_best_trial_of_its_search():
    """conf/recipe/<size>.yaml holds the trial with the best validation accuracy of the committed search
    (experiments/recipes_v1/runs/<size>/), at the search's episode budget."""
    import json

    searched = 0
    for student in choices("student"):
        trials = sorted((CONF.parent / "experiments" / "recipes_v1" / "runs" / student).glob("*/results.json"))
        recipe = OmegaConf.load(CONF / "recipe" / f"{student}.yaml")
        if not trials:  # not searched on this machine (the Hugging Face students: a GPU search)
            continue
        results = [json.loads(p.read_text()) for p in trials]
        best = max(results, key=lambda r: r["train"]["best_val_accuracy"])["config"]
        assert recipe.lr == pytest.approx(best["algorithm"]["module"]["lr"], rel=2e-3), student
        assert recipe.batch_size == best["data"]["batch_size"], student
        assert recipe.warmup_steps == best["algorithm"]["module"]["warmup_steps"], student
        assert recipe.steps == best["data"]["episodes"] // best["data"]["batch_size"], student
        searched += 1
    assert searched >= 1


def test_each_world_v2_recipe_is_the_best_trial_of_its_search_and_reaches_the_objective(compose_cfg):
    """conf/recipe/<size>_v2.yaml holds the trial with the best validation accuracy of the committed world-v2 search
    (experiments/recipes_v2/runs/<size>/, 20 trials), every searched setting of it (Muon's rate and the problem-text
    loss too) reaching the Filtered BC module when the recipe is chosen, at the same training budget for every size."""
    import json

    recipes = sorted(CONF.glob("recipe/*_v2.yaml"))
    assert recipes
    for path in recipes:
        size = path.stem.removesuffix("_v2")
        trials = sorted((CONF.parent / "experiments" / "recipes_v2" / "runs" / size).glob("*/results.json"))
        assert len(trials) >= 20, size
        best = max((json.loads(t.read_text()) for t in trials), key=lambda r: r["train"]["best_val_accuracy"])
        module = compose_cfg("train", [f"student={size}", f"recipe={path.stem}", "+experiment=synthetic_fbc_scratch"])
        for key in ("lr", "muon_lr", "warmup_steps", "prompt_loss_weight"):
            assert module.algorithm.module[key] == pytest.approx(
                best["config"]["algorithm"]["module"][key], rel=2e-3
            ), (size, key)
        assert module.data.batch_size == best["config"]["data"]["batch_size"], size
        assert module.trainer.max_steps >= best["train"]["steps"], size
        # every size trains on the same 16,000 episodes (medium's search ran at 8,000: see its recipe)
        assert module.trainer.max_steps * module.data.batch_size == 16_000, size


@pytest.mark.parametrize(
    "sweep", [p.stem for p in sorted(CONF.glob("sweep_*.yaml")) if not p.stem.startswith("sweep_recipe")]
)  # (searches: Optuna's own grammar)
def test_every_point_of_every_grid_sweep_composes(compose_cfg, sweep):
    """Each job of a grid sweep (the basic sweeper's cartesian product of its params) composes and resolves."""
    params = OmegaConf.load(CONF / f"{sweep}.yaml").hydra.sweeper.params
    axes = [[f"{key}={value}" for value in str(values).split(",")] for key, values in params.items()]
    for point in itertools.product(*axes):
        cfg = compose_cfg(sweep, list(point))
        OmegaConf.to_container(cfg, resolve=True)


def test_the_world_v2_recipe_search_composes_at_the_corners_of_its_space(compose_cfg):
    """Each searched key of conf/sweep_recipe_v2.yaml reaches the objective, passes the config checks at the
    ends of its range, and the steps follow the episode budget."""
    from distill.core.config_checks import check_config

    params = OmegaConf.load(CONF / "sweep_recipe_v2.yaml").hydra.sweeper.params
    assert set(params) == {
        "algorithm.module.lr",
        "algorithm.module.muon_lr",
        "data.batch_size",
        "algorithm.module.warmup_steps",
        "algorithm.module.prompt_loss_weight",
    }
    for corner in (
        [
            "algorithm.module.lr=1e-4",
            "algorithm.module.muon_lr=1e-3",
            "data.batch_size=8",
            "algorithm.module.warmup_steps=0",
            "algorithm.module.prompt_loss_weight=0.0",
        ],
        [
            "algorithm.module.lr=3e-3",
            "algorithm.module.muon_lr=3e-2",
            "data.batch_size=32",
            "algorithm.module.warmup_steps=200",
            "algorithm.module.prompt_loss_weight=0.5",
        ],
    ):
        cfg = compose_cfg("sweep_recipe_v2", ["student=small", *corner])
        check_config(cfg)
        module = OmegaConf.to_container(cfg.algorithm.module, resolve=True)
        for key, value in (c.split("=") for c in corner if c.startswith("algorithm.module.")):
            assert module[key.removeprefix("algorithm.module.")] == pytest.approx(float(value)), key
        assert cfg.data.batch_size == int(corner[2].split("=")[1]) and cfg.data.episodes == 16000
