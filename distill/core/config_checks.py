"""Config checks that run when a command's config is composed, before any folder, teacher request or step.

Two kinds, each naming the key and what is valid:

- **ranges** of the keys every entry point shares (:data:`RULES`, checked wherever the key exists), and
- **types** of every group that builds an object: each ``_target_`` node's keys are checked against the
  signature of the class or function it names (an unknown key, ``lr=fast`` where a float is declared).

:class:`CheckConfig` is the Hydra callback that runs them (``hydra.callbacks`` of each command's config):
on a single run before Hydra creates the run folder, on a sweep once per job.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import traceback
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from distill.core.errors import UsageError, fail


@dataclass(frozen=True)
class Number:
    """A number (or an integer) within bounds; ``open_low`` excludes the low bound itself."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    optional: bool = False  # null allowed
    open_low: bool = False

    def describe(self) -> str:
        what = "an integer" if self.integer else "a number"
        if self.integer and self.low == 1 and self.high is None and not self.open_low:
            what = "a positive integer"
        elif self.low is not None and self.high is not None:
            what += f" in {'(' if self.open_low else '['}{_num(self.low)}, {_num(self.high)}]"
        elif self.low is not None:
            what += f" {'>' if self.open_low else '>='} {_num(self.low)}"
        return what + (" or null" if self.optional else "")

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.optional else f"must be {self.describe()}, got null"
        kinds = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"must be {self.describe()}, got {value!r}"
        too_low = self.low is not None and (value <= self.low if self.open_low else value < self.low)
        if too_low or (self.high is not None and value > self.high):
            return f"must be {self.describe()}, got {value!r}"
        return None


@dataclass(frozen=True)
class Choice:
    choices: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        if any(value is c or (type(value) is type(c) and value == c) for c in self.choices):
            return None
        names = (str(c).lower() if isinstance(c, bool) else str(c) for c in self.choices)
        return f"must be one of {', '.join(names)}; got {value!r}"


@dataclass(frozen=True)
class ExistingPath:
    what: str

    def problem(self, value: Any) -> str | None:
        return None if Path(str(value)).exists() else f"{value}: no such {self.what}"


Rule = Number | Choice  # what a class's ``CHECKS`` (key -> rule) may hold


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


COUNT = Number(1, integer=True)
SOME = Number(0, integer=True)
POSITIVE = Number(0, open_low=True)

# keys shared by the entry points (train, generate, evaluate, cascade); a pattern's `*` matches one key
RULES: dict[str, Any] = {
    "seed": Number(integer=True),
    "threads": Number(1, integer=True, optional=True),
    "samples_per_problem": COUNT,
    "batch_size": COUNT,
    "max_consecutive_failures": Number(1, integer=True, optional=True),
    "budget.max_usd": Number(0, optional=True, open_low=True),
    "budget.max_tokens": Number(1, integer=True, optional=True),
    "ckpt_path": ExistingPath("run or student folder"),
    "allow_mismatch": Choice((True, False)),
    "allow_mixed_world": Choice((True, False)),
    "answerer.k": COUNT,  # the synthetic answerer's strength and rates (the LLM answerers have no such keys)
    "answerer.distraction": Number(0, 1),
    "answerer.misread": Number(0, 1),
    "answerer.slip": Number(0, 1),
    "answerer.guess": Number(0, 1),
    "answerer.noise": Choice(("decomposition", "question")),
    "reward.credit_draws": COUNT,
    "dataset.limit": Number(1, integer=True, optional=True),
    "dataset.sizes.*": COUNT,
    "data.val_fraction": Number(0, 0.5, open_low=True),
    "data.samples_per_problem": COUNT,
    "data.batch_size": COUNT,
    "data.episodes": Number(1, integer=True, optional=True),
    "data.max_val_problems": COUNT,
    "trainer.max_steps": COUNT,
    "trainer.val_check_interval": COUNT,
    "algorithm.module.group_size": Number(2, integer=True),  # online RL: a group to compare
    "algorithm.module.num_iterations": COUNT,
    "algorithm.module.max_new_tokens": COUNT,
    "algorithm.module.step_credit": Number(0),
    "eval.batch_size": COUNT,
    "eval.samples": SOME,
    "eval.temperature": POSITIVE,
    "eval.teacher_samples": COUNT,
    "eval.top_k": Number(1, integer=True, optional=True),
    "cascade.target.kind": Choice(("accuracy", "deferred", "budget")),
    "cascade.n_samples": SOME,
    "cascade.temperature": POSITIVE,
    "cascade.batch_size": COUNT,
    "cascade.n_points": Number(2, integer=True),
    "cascade.reliability_bins": COUNT,
    "cascade.prices.*": Number(0),
}


def config_problems(cfg: DictConfig) -> list[str]:
    """Every problem found in ``cfg`` (the ``hydra`` node aside), one line each, naming the key."""
    problems = []
    for key, value in _leaves(cfg):
        if isinstance(value, _Unresolved):
            problems.append(value.problem)
            continue
        for pattern, rule in RULES.items():
            if fnmatch.fnmatchcase(key, pattern) and key.count(".") == pattern.count("."):
                problem = rule.problem(value)
                if problem:
                    problems.append(f"{key} {problem}" if not isinstance(rule, ExistingPath) else f"{key}={problem}")
    problems += _cascade_target_problems(cfg)
    problems += _world_problems(cfg)
    named = [p.split(" ")[0].split("=")[0] for p in problems]
    # a built node's own error repeats what a rule already said of one of its keys: keep the rule's line
    problems += [
        p
        for p in _target_problems(cfg, "")
        if not (p.split(" ")[0].endswith(":") and any(n.startswith(p.split(" ")[0][:-1] + ".") for n in named))
    ]
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`UsageError` with the first problem of ``cfg`` (and how many more there are)."""
    problems = config_problems(cfg)
    if problems:
        more = len({p.split(" ")[0].split("=")[0] for p in problems}) - 1  # other keys with a problem
        raise UsageError(problems[0] + (f" (and {more} more key{'s' * (more > 1)} to fix)" if more else ""))


class CheckConfig(Callback):
    """Hydra callback: check the composed config before Hydra creates a run folder (sweeps: each job's)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_or_exit(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_or_exit(config)


def _check_or_exit(config: DictConfig) -> None:
    try:
        check_config(config)
    except UsageError as error:
        # Hydra runs callbacks under a guard that turns an exception into a warning and goes on: exit here
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            traceback.print_exc()
        fail(str(error))


@dataclass(frozen=True)
class _Unresolved:
    problem: str


def _leaves(cfg: DictConfig, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, resolved value) of every leaf; a value that cannot be resolved is an :class:`_Unresolved`."""
    out = []
    for key in map(str, cfg.keys()):
        if prefix == "" and key == "hydra":
            continue
        full = f"{prefix}{key}"
        try:
            value = cfg[key]
        except MissingMandatoryValue:
            out.append((full, _Unresolved(f"{full} is required (set it on the command line: {full}=...)")))
            continue
        except InterpolationResolutionError as error:
            out.append((full, _Unresolved(f"{full}: {str(error).splitlines()[0]}")))
            continue
        if isinstance(value, DictConfig):
            out += _leaves(value, full + ".")
        elif not isinstance(value, ListConfig):
            out.append((full, value))
    return out


def synthetic_world(choice: str | None, group: str = "dataset") -> str | None:
    """The synthetic world a group choice belongs to (``synthetic`` is world v2, ``synthetic_<level>`` is that
    level's; the ``rule`` and ``gold`` baselines' answerer and judge are world v2's), or None for other choices."""
    if choice == "synthetic" or (choice in ("rule", "gold") and group != "teacher"):
        return "v2"
    return choice[len("synthetic_") :] if choice and choice.startswith("synthetic_") else None


def world_choice(world: str) -> str:
    """The group choice of a world's data set and roles (world v2's files are the plain ``synthetic``)."""
    return "synthetic" if world == "v2" else f"synthetic_{world}"


def _world_problems(cfg: DictConfig) -> list[str]:
    """A data set of one synthetic world with a teacher, answerer or judge of another (``dataset=synthetic_v1``
    alone pairs world v1's problems with the default world's roles), unless ``allow_mixed_world``."""
    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    world = synthetic_world(choices.get("dataset")) if choices is not None else None
    if world is None or cfg.get("allow_mixed_world"):
        return []
    for group in ("teacher", "answerer", "judge"):
        other = synthetic_world(choices.get(group), group)
        if other is not None and other != world:
            return [
                f"{group}={choices.get(group)} is world {other}'s, dataset={choices.get('dataset')} world "
                f"{world}'s: pick both with world={world} (or {group}={world_choice(world)}; allow_mixed_world=true "
                f"to mix them)"
            ]
    return []


def _cascade_target_problems(cfg: DictConfig) -> list[str]:
    target = OmegaConf.select(cfg, "cascade.target", default=None)
    if target is None or target.get("value") is None:
        return []
    rule = Number(0) if target.get("kind") == "budget" else Number(0, 1)
    problem = rule.problem(target.value)
    return [f"cascade.target.value {problem} (cascade.target.kind={target.get('kind')})"] if problem else []


def _target_problems(node: Any, prefix: str) -> list[str]:
    """Keys of each ``_target_`` node that its callable does not take, or whose type it does not declare."""
    if isinstance(node, ListConfig):
        return [p for i, item in enumerate(node) for p in _target_problems(item, f"{prefix}[{i}].")]
    if not isinstance(node, DictConfig):
        return []
    problems = []
    if "_target_" in node and isinstance(node.get("_target_"), str):
        problems += _signature_problems(node, prefix)
    for key in map(str, node.keys()):
        if prefix == "" and key == "hydra":
            continue
        try:
            child = node[key]
        except (MissingMandatoryValue, InterpolationResolutionError):
            continue  # reported by the leaf pass
        problems += _target_problems(child, f"{prefix}{key}.")
    if not problems and str(node.get("_target_", "")).startswith(BUILT_TO_CHECK):
        problems += _build_problems(node, prefix)
    return problems


# the synthetic world's generators and roles are cheap, pure constructors that check their own values (a step
# count, a rate, a name pool): built when the config is composed, so that a bad value is one line before any work
BUILT_TO_CHECK = ("distill.synthetic.",)


def _build_problems(node: DictConfig, prefix: str) -> list[str]:
    from hydra.utils import instantiate

    try:
        instantiate(node)
    except Exception as error:  # noqa: BLE001  (hydra wraps the constructor's ValueError in its own error)
        cause = error.__cause__ or error
        if isinstance(cause, (ValueError, TypeError)):
            return [f"{prefix.rstrip('.')}: {str(cause).splitlines()[0]}"]
    return []


def _class_rule_problems(node: DictConfig, prefix: str, checks: dict[str, Rule]) -> list[str]:
    """The values a class refuses by its own ``CHECKS`` (a loss type it does not know, a temperature of 0)."""
    problems = []
    for key, rule in checks.items():
        try:
            value = node[key] if key in node else None
        except (MissingMandatoryValue, InterpolationResolutionError):
            continue  # reported by the leaf pass
        if key in node and (problem := rule.problem(value)):
            problems.append(f"{prefix}{key} {problem}")
    return problems


def _clash_problems(node: DictConfig, clashes: Any) -> list[str]:
    """Settings a class finds contradict one another (its ``clashes(settings)``), where every value resolves."""
    if clashes is None:
        return []
    try:
        settings = {str(k): node[k] for k in node.keys() if not str(k).startswith("_")}
    except (MissingMandatoryValue, InterpolationResolutionError):
        return []  # reported by the leaf pass
    return clashes(settings)


def _signature_problems(node: DictConfig, prefix: str) -> list[str]:
    target = node._target_
    try:
        function = get_method(target)  # classes too: hydra's get_method returns any callable
    except Exception:  # noqa: BLE001  (an import error of any kind: the message names the target)
        return [f"{prefix}_target_={target} cannot be imported"]
    try:
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function.__init__ if inspect.isclass(function) else function)
    except (TypeError, ValueError, NameError, AttributeError):
        return []  # a callable we cannot read: nothing to check against
    parameters = signature.parameters
    problems = _class_rule_problems(node, prefix, getattr(function, "CHECKS", {}))
    problems += _clash_problems(node, getattr(function, "clashes", None))
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key in map(str, node.keys()):
        if key.startswith("_") and key.endswith("_"):
            continue  # hydra's own keys (_target_, _partial_, _recursive_, _convert_)
        if key not in parameters:
            if not takes_any:
                valid = [name for name, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
                problems.append(f"{prefix}{key} is not a setting of {target}; valid: {', '.join(valid)}")
            continue
        try:
            value = node[key]
        except (MissingMandatoryValue, InterpolationResolutionError):
            continue
        expected = _simple_types(hints.get(key))
        if expected and not _is_instance(value, expected):
            names = " or ".join(TYPE_NAMES[t] for t in expected)
            problems.append(f"{prefix}{key} must be {names}, got {value!r}")
    return problems


SIMPLE = (bool, int, float, str, type(None))
TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _simple_types(hint: Any) -> tuple[type, ...] | None:
    """The plain types a hint allows (``float | None`` -> (float, NoneType)), or None for anything richer."""
    if hint in SIMPLE:
        return (hint,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return args if all(a in SIMPLE for a in args) else None
    return None


def _is_instance(value: Any, expected: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in expected
    if isinstance(value, int) and float in expected:
        return True  # 1 where a float is declared
    return isinstance(value, expected)
