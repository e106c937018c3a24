"""What an ``algorithm`` config declares, typed and checked when it is built: the objective, which records it
trains on, where its student starts, its first stage, its own batch size and steps.

Every key that training reads from ``cfg.algorithm`` is a field here; the YAML files in ``conf/algorithm/``
(and ``conf/stage/`` for first stages) set them, and this is where a bad value is refused, naming the key,
before any teacher request or training step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from distill.core.contracts import Objective
from distill.core.errors import UsageError

FIRST_STAGE = "stage"  # init_from value: train the `pretrain` stage first


@dataclass(frozen=True)
class AlgorithmSpec:
    name: str  # the objective's name in results and reports (bc, filtered_bc, dpo, ...)
    module: DictConfig  # the LightningModule: ``_target_`` (an Objective) and its hyper-parameters
    min_correctness: float | None  # train on records with answer_correctness >= this (None: all)
    min_usefulness: float | None  # train on records whose mean usefulness >= this (None: all)
    init_from: str | None  # None: a fresh student | "stage": train `pretrain` first | a saved student/run folder
    pretrain: AlgorithmSpec | None  # the first stage, used when init_from="stage" (its own `steps` set)
    steps: int | None = None  # a first stage's optimiser steps (an objective's come from the trainer or data budget)
    batch_size: int | None = None  # the objective's own batch (DPO's pairs); None: the student size's recipe
    val_check_interval: int | None = None  # a first stage's validation interval; None: the run's trainer's
    key: str = "algorithm"  # where the config came from, for error messages
    min_question_usefulness: float | None = None  # train on records whose every sub-question scores >= this (None: all)

    def __post_init__(self) -> None:
        def fail(field: str, what: str) -> None:
            raise UsageError(f"{self.key}.{field}: {what}")

        if not isinstance(self.name, str) or not self.name:
            fail("name", f"must be a non-empty name, got {self.name!r}")
        for field in ("min_correctness", "min_usefulness", "min_question_usefulness"):
            value = getattr(self, field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0
            ):
                fail(field, f"must be a number in [0, 1] or null (keep all), got {value!r}")
        if self.init_from is not None and not (isinstance(self.init_from, str) and self.init_from):
            fail("init_from", f"must be null, {FIRST_STAGE!r} or a saved student/run folder, got {self.init_from!r}")
        if self.init_from == FIRST_STAGE and self.pretrain is None:
            fail("init_from", f"is {FIRST_STAGE!r} but no `pretrain` stage is configured (e.g. /stage@pretrain: bc)")
        if self.init_from == FIRST_STAGE and self.pretrain is not None and self.pretrain.steps is None:
            fail("pretrain.steps", "a first stage needs its number of optimiser steps")
        for field in ("steps", "batch_size", "val_check_interval"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                fail(field, f"must be a positive integer or null, got {value!r}")
        self.objective_class  # noqa: B018  (resolves the module's _target_ now, so a typo fails here)

    @property
    def objective_class(self) -> type[Objective]:
        """The class ``module._target_`` names, checked to be an Objective."""
        target = self.module.get("_target_") if isinstance(self.module, DictConfig) else None
        if not target:
            raise UsageError(f"{self.key}.module: needs a _target_ (the objective's LightningModule class)")
        try:
            cls = get_class(target)
        except Exception as err:  # Hydra raises ImportError or ValueError with its own wording
            raise UsageError(f"{self.key}.module._target_={target!r} cannot be imported: {err}") from None
        missing = [
            m
            for m in ("student_only", "make_items", "scorers", "save_extras", "saved_decoding", "critic")
            if not hasattr(cls, m)
        ]
        if missing:
            raise UsageError(
                f"{self.key}.module._target_={target!r} is not an {Objective.__name__}: missing {', '.join(missing)}"
            )
        return cls

    @property
    def shares_stage(self) -> bool:
        """A from-scratch run of an objective that trains the student alone is the same training as a first
        stage of this config (bitwise the same student), so it goes through the stage cache too."""
        return self.init_from is None and self.objective_class.student_only

    def stage_key(self, steps: int) -> dict[str, Any]:
        """What identifies this config trained as a stage for ``steps`` steps (the stage cache's key): a
        from-scratch BC run and a BC first stage with the same steps are the same key."""
        key = {
            "name": self.name,
            "min_correctness": self.min_correctness,
            "min_usefulness": self.min_usefulness,
            "init_from": self.init_from,
            "module": OmegaConf.to_container(self.module, resolve=True),
            "steps": steps,
        }
        if self.min_question_usefulness is not None:  # only when set: the cache keys of earlier stages stand
            key["min_question_usefulness"] = self.min_question_usefulness
        if self.init_from == FIRST_STAGE and self.pretrain is not None and self.pretrain.steps is not None:
            key["pretrain"] = self.pretrain.stage_key(self.pretrain.steps)
        return key

    @classmethod
    def from_config(cls, cfg: DictConfig, key: str = "algorithm") -> AlgorithmSpec:
        """The spec of an ``algorithm`` (or first-stage) config; unknown keys are refused."""
        known = {
            "name",
            "module",
            "min_correctness",
            "min_usefulness",
            "min_question_usefulness",
            "init_from",
            "pretrain",
            "steps",
            "batch_size",
            "val_check_interval",
        }
        unknown = sorted({str(k) for k in cfg.keys()} - known)
        if unknown:
            raise UsageError(f"{key}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        for required in ("name", "module"):
            if cfg.get(required) is None:
                raise UsageError(f"{key}.{required} is required")
        pretrain = cfg.get("pretrain")
        return cls(
            name=cfg.name,
            module=cfg.module,
            min_correctness=cfg.get("min_correctness"),
            min_usefulness=cfg.get("min_usefulness"),
            min_question_usefulness=cfg.get("min_question_usefulness"),
            init_from=cfg.get("init_from"),
            pretrain=cls.from_config(pretrain, f"{key}.pretrain") if pretrain is not None else None,
            steps=cfg.get("steps"),
            batch_size=cfg.get("batch_size"),
            val_check_interval=cfg.get("val_check_interval"),
            key=key,
        )
