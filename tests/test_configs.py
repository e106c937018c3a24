"""Every config group choice and experiment file composes into a buildable config."""

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["dataset", "teacher", "answerer", "judge", "student", "algorithm", "reward", "trainer", "logger"]


def choices(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,choice", [(g, c) for g in GROUPS for c in choices(g)])
def test_every_choice_composes(compose_cfg, group, choice):
    cfg = compose_cfg("train", [f"{group}={choice}"])
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


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
