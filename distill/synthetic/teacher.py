"""The synthetic teacher: the gold decomposition, perturbed the way LLMs err.

Two kinds of error (design notes, section 3):

- **habits**, tied to problem features, which fire on most samples of the problems that have the
  feature, so that the error is the teacher's most likely output there (greedy imitation learns it):
  - ``habit_merge_division``: on problems with a "half / a third / a quarter as many" step that is not
    the final one, the teacher skips that step (merging it into the next, which then needs two
    operations);
  - ``habit_cut_long``: on chains of at least ``cut_long_min_steps`` steps, it stops two steps short;
  - ``habit_ask_starts_with``: when a given fact is phrased "X starts with N ...", it first asks for that
    given quantity (harmless for the answer, useless by the judge);
- **slips**, independent and rare, with rates that grow with the difficulty of the problem, as an LLM's do
  (``rate * (1 + difficulty_scale * (steps - 2) + distractor_scale * distractors)``, distractors: the
  quantities the target does not need): skip a step, swap two adjacent steps, stop early, repeat a question,
  ask about a distractor, ask about a given quantity.

``GoldTeacher``, ``RuleTeacher`` and ``NoQuestions`` are baselines every report can show: the world's gold
decomposition (what a program that back-chains from the question through the text's references finds), the
surface rules that ask for stated quantities in the order the sentences state them (``SURFACE_RULES``; the data
set reports each and their best as ``rule``), and no decomposition at all (the answerer alone).

Each sample draws from a random stream seeded by (seed, problem id, sample index), so a teacher's output
is a pure function of its configuration. Each decomposition's ``meta["errors"]`` lists what fired.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from distill.core.contracts import Decomposition, Problem
from distill.synthetic.world import WorldProblem, world_of


class SyntheticTeacher:
    def __init__(
        self,
        seed: int = 0,
        habit_merge_division: float = 0.75,
        habit_cut_long: float = 0.4,
        cut_long_min_steps: int = 4,
        habit_ask_starts_with: float = 0.75,
        skip: float = 0.02,
        swap: float = 0.02,
        stop_early: float = 0.02,
        repeat: float = 0.03,
        distractor: float = 0.05,
        ask_given: float = 0.03,
        difficulty_scale: float = 0.5,
        paraphrase_weights: tuple[float, ...] = (0.6, 0.25, 0.15),
        name: str = "synthetic-teacher",
        *,
        distractor_scale: float,  # no default: world v2's teacher and v1's (0) set it in their YAML files
    ) -> None:
        rates = dict(
            habit_merge_division=habit_merge_division,
            habit_cut_long=habit_cut_long,
            habit_ask_starts_with=habit_ask_starts_with,
            skip=skip,
            swap=swap,
            stop_early=stop_early,
            repeat=repeat,
            distractor=distractor,
            ask_given=ask_given,
        )
        bad = {k: v for k, v in rates.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"teacher rates must lie in [0, 1]: {bad}")
        self.__dict__.update(rates)
        self.seed = seed
        self.cut_long_min_steps = cut_long_min_steps
        self.difficulty_scale, self.distractor_scale = difficulty_scale, distractor_scale
        self.paraphrase_weights = list(paraphrase_weights)
        self.name = name

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        return [[self.sample(p, i) for i in range(n_samples)] for p in problems]

    def sample(self, problem: Problem, sample_index: int) -> Decomposition:
        world = world_of(problem)
        rng = random.Random(f"{self.seed}|{problem.problem_id}|{sample_index}")
        order, errors = self.perturb(world, rng)
        questions = []
        for i in order:
            phrasings = world.quantities[i].questions()  # as many as the world's templates allow (2 with templates=1)
            choice = rng.choices(range(len(self.paraphrase_weights)), self.paraphrase_weights)[0]
            questions.append(phrasings[choice % len(phrasings)])
        return Decomposition(questions, meta={"errors": errors, "quantities": order})

    def perturb(self, world: WorldProblem, rng: random.Random) -> tuple[list[int], list[str]]:
        """The quantities the teacher asks for, in order, and the names of the errors that fired."""
        order = world.gold_order()
        target = world.target
        errors: list[str] = []
        unneeded = len(world.quantities) - len(world.ancestors(target) | {target})
        scale = 1.0 + self.difficulty_scale * max(0, world.n_steps - 2) + self.distractor_scale * unneeded

        def chance(rate: float) -> bool:
            return rng.random() < min(1.0, rate)

        # habits
        divisions = [i for i in order if world.quantities[i].op == "div" and i != target]
        if divisions and chance(self.habit_merge_division):
            order = [i for i in order if i not in divisions]
            errors.append("habit_merge_division")
        if world.n_steps >= self.cut_long_min_steps and chance(self.habit_cut_long):
            order = order[:-2]
            errors.append("habit_cut_long")

        # slips that change which steps are asked, and in which order
        kept = []
        for i in order:
            if i != target and chance(self.skip * scale):
                errors.append("skip")
            else:
                kept.append(i)
        order = kept
        for j in range(len(order) - 1):
            if chance(self.swap * scale):
                order[j], order[j + 1] = order[j + 1], order[j]
                errors.append("swap")
        if len(order) >= 3 and chance(self.stop_early * scale):
            order = order[: rng.randint(1, len(order) - 2)]
            errors.append("stop_early")

        # slips that add useless questions
        repeated = []
        for i in order:
            repeated.append(i)
            if chance(self.repeat * scale):
                repeated.append(i)
                errors.append("repeat")
        order = repeated
        needed = world.needed()
        distractors = [i for i in range(len(world.quantities)) if i not in needed and i not in world.ancestors(target)]
        if distractors and chance(self.distractor * scale):
            order.insert(rng.randint(0, len(order)), rng.choice(distractors))
            errors.append("distractor")
        givens = sorted(world.ancestors(target) & world.given_indices())
        if givens and chance(self.ask_given * scale):
            order.insert(rng.randint(0, len(order)), rng.choice(givens))
            errors.append("ask_given")

        starts_with = [i for i in givens if world.quantities[i].phrasing == "starts with"]
        if starts_with and chance(self.habit_ask_starts_with):
            order.insert(0, starts_with[0])
            errors.append("habit_ask_starts_with")
        return order, errors


def fixed_decompositions(
    problems: list[Problem], n_samples: int, order: Callable[[WorldProblem], list[int]]
) -> list[list[Decomposition]]:
    """The same decomposition for every sample: the first question form of each quantity in ``order(world)``."""
    out = []
    for problem in problems:
        world = world_of(problem)
        quantities = order(world)
        questions = [world.quantities[i].questions()[0] for i in quantities]
        out.append([Decomposition(list(questions), meta={"quantities": quantities})] * n_samples)
    return out


class GoldTeacher:
    """The world's gold decomposition (first question form), the same for every sample: the ceiling a
    decomposer can reach with the configured answerer."""

    def __init__(self, name: str = "gold") -> None:
        self.name = name

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        return fixed_decompositions(problems, n_samples, WorldProblem.gold_order)


class NoQuestions:
    """No sub-questions: the answerer alone. What a decomposition must beat: an answerer of strength k solves the
    problems of up to k operations by itself (but for its slips)."""

    def __init__(self, name: str = "none") -> None:
        self.name = name

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        return fixed_decompositions(problems, n_samples, lambda world: [])


def _derived(world: WorldProblem, order: list[int]) -> list[int]:
    return [i for i in order if not world.quantities[i].given]


def _up_to_question(world: WorldProblem, order: list[int]) -> list[int]:
    return order[: order.index(world.target) + 1] if world.target in order else order


# Surface rules: each reads only the text's sentences in order, which of them state a number (given) or a relation
# (derived), and the question's own sentence and item; none traces which facts the question depends on.
SURFACE_RULES: dict[str, Callable[[WorldProblem], list[int]]] = {
    "all": lambda w: list(w.fact_order),  # every fact, in text order
    "stop_at_question": lambda w: _up_to_question(w, list(w.fact_order)),  # ... up to the question's own fact
    "derived": lambda w: _derived(w, w.fact_order),  # relations only, in text order
    "derived_two_passes": lambda w: _derived(w, w.fact_order) * 2,  # ... twice (inputs stated later)
    "derived_stop_at_question": lambda w: _up_to_question(w, _derived(w, w.fact_order)),
    "question_item": lambda w: [
        i
        for i in _derived(w, w.fact_order)  # relations about the question's item
        if w.quantities[i].item == w.quantities[w.target].item
    ],
}


class RuleTeacher:
    """A surface rule (``SURFACE_RULES``): sub-questions about the text's sentences in the text's order, asking
    for each chosen sentence's quantity ("How many <item> does <person> have?"). It reads the sentences through
    the world's structure (a perfect parser of its own templates), but never back-chains from the question. The
    default, ``all``, asks for every sentence: on world v1 it scores 1.000 with the k = 1 answerer, a world it
    solves does not measure decomposition."""

    def __init__(self, rule: str = "all", name: str = "rule") -> None:
        if rule not in SURFACE_RULES:
            raise ValueError(f"unknown surface rule {rule!r}; valid: {', '.join(SURFACE_RULES)}")
        self.rule, self.name = rule, name

    def decompose(self, problems: list[Problem], n_samples: int) -> list[list[Decomposition]]:
        return fixed_decompositions(problems, n_samples, SURFACE_RULES[self.rule])
