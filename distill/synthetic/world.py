"""The synthetic decomposition world: arithmetic stories with an exact ground truth.

A problem is a small graph of quantities. Each quantity is "the number of <item> <person> has"; a
given quantity is stated with its value, a derived one is made from one or two earlier quantities by
one operation (more, fewer, times as many, a fraction as many, together). The final question asks for
one derived quantity, the target; the gold decomposition asks for each derived ancestor of the target in
dependency order, ending with the target. Distractors are quantities the target does not need: given
facts, and (as a knob) derived ones.

Everything is a pure function of a seed. Splits never overlap: a problem belongs to the split that the
hash of its text assigns it to (see ``SPLIT_BUCKETS``), and a generator for a split rejects others.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from distill.core.contracts import Problem

NAMES = [
    "Tom",
    "Anna",
    "Ben",
    "Cara",
    "Dan",
    "Eve",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jack",
    "Kim",
    "Leo",
    "Mia",
    "Nora",
    "Omar",
    "Pia",
    "Ravi",
    "Sara",
    "Theo",
    "Uma",
    "Vic",
    "Wes",
    "Zoe",
]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "shells", "cards", "stamps", "cookies"]
FRACTIONS = {2: "half", 3: "a third", 4: "a quarter"}
MAX_VALUE = 500

# Surface templates: form 0 of each is world v1's only one. ``{p}`` the person, ``{r0}``, ``{r1}`` the quantities a
# step is made from, ``{c}`` its constant ("twice", "half" as ``{times}``, ``{frac}``), ``{v}`` a given value.
FACT_FORMS = {
    "given": ["{p} has {v} {item}.", "{p} owns {v} {item}.", "{p} holds {v} {item}."],
    "add": [
        "{p} has {c} more {item} than {r0}.",
        "{p} has {c} {item} more than {r0}.",
        "Compared with {r0}, {p} has {c} extra {item}.",
    ],
    "sub": [
        "{p} has {c} fewer {item} than {r0}.",
        "{p} has {c} {item} less than {r0}.",
        "Compared with {r0}, {p} has {c} fewer {item}.",
    ],
    "mul": [
        "{p} has {times} as many {item} as {r0}.",
        "{p} owns {times} as many {item} as {r0}.",
        "The number of {item} of {p} is {times} that of {r0}.",
    ],
    "div": [
        "{p} has {frac} as many {item} as {r0}.",
        "{p} owns {frac} as many {item} as {r0}.",
        "The number of {item} of {p} is {frac} that of {r0}.",
    ],
    "sum": [
        "{p} has as many {item} as {r0} and {r1} together.",
        "{p} has as many {item} as {r0} and {r1} combined.",
        "The number of {item} of {p} is the total of {r0} and {r1}.",
    ],
    "diff": [
        "{p} has as many {item} as the difference between {r0} and {r1}.",
        "{p} has as many {item} as {r0} has more than {r1}.",
        "The number of {item} of {p} is what {r0} has beyond {r1}.",
    ],
}
QUESTION_FORMS = [
    "How many {item} does {p} have?",
    "What is the number of {item} that {p} has?",
    "How many {item} does {p} end up with?",
    "How many {item} does {p} own?",
    "What is the count of {item} that {p} holds?",
    "How many {item} are with {p}?",
]

# Hash buckets (of 100) per split: membership is decided by the problem text, so splits are disjoint.
SPLIT_BUCKETS = {
    "train": range(0, 80),
    "validation": range(80, 85),
    "test": range(85, 100),
    "ood": range(85, 100),  # the test buckets, but with longer chains than any other split
}


@dataclass(frozen=True)
class Quantity:
    person: str
    item: str
    value: int
    op: str  # given | add | sub | mul | div | sum | diff
    deps: tuple[int, ...] = ()
    const: int = 0
    # how a given fact is stated ("has" or "starts with"); the teacher has a habit keyed on it
    phrasing: str = "has"
    fact_form: int = 0  # which of FACT_FORMS[op] states it
    n_questions: int = 3  # how many of QUESTION_FORMS ask for it (world v1: 3)

    @property
    def given(self) -> bool:
        return self.op == "given"

    def questions(self) -> list[str]:
        """Paraphrases of the question that asks for this quantity."""
        return [form.format(item=self.item, p=self.person) for form in QUESTION_FORMS[: self.n_questions]]


@dataclass
class WorldProblem:
    quantities: list[Quantity]
    target: int
    # indices of quantities in the order their facts are stated
    fact_order: list[int]
    question_form: int = 0
    text: str = field(init=False)

    def __post_init__(self) -> None:
        facts = [self.fact(i) for i in self.fact_order]
        question = self.quantities[self.target].questions()[self.question_form]
        self.text = " ".join(facts + [question])
        self._lookup = {normalize(q): i for i, quantity in enumerate(self.quantities) for q in quantity.questions()}

    @property
    def answer(self) -> int:
        return self.quantities[self.target].value

    def ancestors(self, index: int) -> set[int]:
        """Every quantity that ``index`` is computed from, directly or not."""
        seen: set[int] = set()
        stack = list(self.quantities[index].deps)
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(self.quantities[i].deps)
        return seen

    def needed(self) -> set[int]:
        """The derived quantities the target needs, the target included."""
        return {i for i in self.ancestors(self.target) | {self.target} if not self.quantities[i].given}

    def gold_order(self) -> list[int]:
        """The needed derived quantities in the order they are computed (indices are topological)."""
        return sorted(self.needed())

    @property
    def n_steps(self) -> int:
        return len(self.needed())

    def given_indices(self) -> set[int]:
        return {i for i, q in enumerate(self.quantities) if q.given}

    def match(self, question: str) -> int | None:
        """The quantity a question asks for, or None if it names none of this problem's quantities."""
        return self._lookup.get(normalize(question))

    def ops_to_resolve(self, index: int, known: set[int]) -> int:
        """How many operations compute quantity ``index`` from the ``known`` ones."""
        missing: set[int] = set()
        stack = [index]
        while stack:
            i = stack.pop()
            if i in known or i in missing:
                continue
            missing.add(i)
            stack.extend(self.quantities[i].deps)
        return len(missing)

    def fact(self, index: int) -> str:
        q = self.quantities[index]
        if q.given and q.phrasing == "starts with":
            return f"{q.person} starts with {q.value} {q.item}."
        refs = [self._reference(q, d) for d in q.deps] + ["", ""]
        times = "twice" if q.const == 2 else f"{q.const} times"
        return FACT_FORMS[q.op][q.fact_form].format(
            p=q.person,
            v=q.value,
            item=q.item,
            c=q.const,
            times=times,
            frac=FRACTIONS.get(q.const, ""),
            r0=refs[0],
            r1=refs[1],
        )

    def _reference(self, q: Quantity, dep: int) -> str:
        d = self.quantities[dep]
        return d.person if d.item == q.item else f"{d.person} has {d.item}"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def text_bucket(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 100


def apply_op(op: str, const: int, values: list[int]) -> int | None:
    """The result of an operation, or None when it would not be a positive integer in range."""
    if op == "add":
        result = values[0] + const
    elif op == "sub":
        result = values[0] - const
    elif op == "mul":
        result = values[0] * const
    elif op == "div":
        result = values[0] // const if values[0] % const == 0 else None
    elif op == "sum":
        result = values[0] + values[1]
    elif op == "diff":
        result = values[0] - values[1]
    else:
        raise ValueError(op)
    return result if result is not None and 0 < result <= MAX_VALUE else None


@dataclass
class WorldConfig:
    """Knobs of world v1's problem generator."""

    name: ClassVar[str] = "synthetic"  # the data set's name in results (world v2: synthetic-v2)

    min_steps: int = 2
    max_steps: int = 4
    # given facts that the target does not need: a count drawn uniformly from [min, max]
    min_given_distractors: int = 1
    max_given_distractors: int = 2
    # derived quantities that the target does not need
    min_derived_distractors: int = 0
    max_derived_distractors: int = 0
    # relative frequency of each operation for a derived step
    op_weights: dict[str, float] = field(
        default_factory=lambda: {"add": 1.0, "sub": 1.0, "mul": 1.0, "div": 1.0, "sum": 0.6}
    )
    # share of derived steps whose item differs from the quantity it is made from
    item_change_rate: float = 0.3
    # share of given facts stated as "X starts with N items" instead of "X has N items"
    starts_with_rate: float = 0.3

    def __post_init__(self) -> None:
        if not 1 <= self.min_steps <= self.max_steps <= 8:
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 8, got {self.min_steps}..{self.max_steps}")
        unknown = set(self.op_weights) - {"add", "sub", "mul", "div", "sum"}
        if unknown:
            raise ValueError(f"unknown operations {sorted(unknown)}; valid: add, sub, mul, div, sum")

    def problem(self, rng: random.Random, n_steps: int) -> WorldProblem | None:
        return generate_problem(rng, self, n_steps)


def generate_problem(rng: random.Random, config: WorldConfig, n_steps: int) -> WorldProblem | None:
    """One problem with ``n_steps`` derived quantities on the target's chain, or None on a dead end."""
    build = _ChainBuilder(rng, config)
    # the target's chain: each derived step builds on the previous one
    current: int | None = build.add_given()
    for _ in range(n_steps):
        current = build.add_derived(current) if current is not None else None
    if current is None:
        return None
    chain_size = len(build.quantities)
    for _ in range(rng.randint(config.min_given_distractors, config.max_given_distractors)):
        build.add_given()
    for _ in range(rng.randint(config.min_derived_distractors, config.max_derived_distractors)):
        if build.add_derived(rng.randrange(len(build.quantities))) is None:
            return None
    order = _interleave(rng, build.quantities, chain_size)
    return WorldProblem(build.quantities, current, order, question_form=rng.randrange(3))


class _ChainBuilder:
    """World v1's quantities as they are drawn (the order of the draws is the problem's identity)."""

    def __init__(self, rng: random.Random, config: WorldConfig) -> None:
        self.rng, self.config = rng, config
        self.names = rng.sample(NAMES, len(NAMES))
        self.used_keys: set[tuple[str, str]] = set()
        self.quantities: list[Quantity] = []

    def fresh_key(self, item: str) -> tuple[str, str]:
        # a new person for each quantity while names last, so that names tell quantities apart
        used_names = {name for name, _ in self.used_keys}
        for name in sorted(self.names, key=lambda n: n in used_names):
            if (name, item) not in self.used_keys:
                self.used_keys.add((name, item))
                return name, item
        raise RuntimeError("ran out of names")

    def add_given(self, item: str | None = None, value: int | None = None) -> int:
        person, item = self.fresh_key(item or self.rng.choice(ITEMS))
        phrasing = "starts with" if self.rng.random() < self.config.starts_with_rate else "has"
        self.quantities.append(Quantity(person, item, value or self.rng.randint(2, 30), "given", phrasing=phrasing))
        return len(self.quantities) - 1

    def add_derived(self, base: int) -> int | None:
        rng, quantities = self.rng, self.quantities
        ops, weights = zip(*self.config.op_weights.items())
        for _ in range(20):
            op = rng.choices(ops, weights)[0]
            draws = [rng.randint(2, 9), rng.randint(1, 9), rng.randint(2, 3), rng.choice([2, 2, 3, 4]), 0]
            const = dict(zip(("add", "sub", "mul", "div", "sum"), draws))[op]  # every draw, as the world always made
            item = quantities[base].item
            if op != "sum" and rng.random() < self.config.item_change_rate:
                item = rng.choice([i for i in ITEMS if i != item])
            values = [quantities[base].value]
            second, new_given = None, None
            if op == "sum":  # "together" adds a like quantity: an earlier one, or a new given fact
                like = [i for i, q in enumerate(quantities) if i != base and q.item == item]
                if like and rng.random() < 0.5:
                    second = rng.choice(like)
                    values.append(quantities[second].value)
                else:
                    new_given = rng.randint(2, 30)
                    values.append(new_given)
            value = apply_op(op, const, values)
            if value is None:
                continue
            if new_given is not None:
                second = self.add_given(item, new_given)
            person, item = self.fresh_key(item)
            quantities.append(Quantity(person, item, value, op, (base,) if second is None else (base, second), const))
            return len(quantities) - 1
        return None


def _interleave(rng: random.Random, quantities: list[Quantity], chain_size: int) -> list[int]:
    """A fact order: the chain in order, each distractor placed somewhere after its dependencies."""
    order = list(range(chain_size))
    for i in range(chain_size, len(quantities)):
        earliest = max((order.index(d) + 1 for d in quantities[i].deps), default=0)
        order.insert(rng.randint(earliest, len(order)), i)
    return order


@dataclass
class SyntheticProblem(Problem):
    """A problem of the synthetic world, with the exact structure that the synthetic roles read."""

    world: WorldProblem


def world_of(problem: Problem) -> WorldProblem:
    """The structure of a synthetic problem; a clear error for any other problem."""
    if not isinstance(problem, SyntheticProblem):
        raise ValueError(
            f"problem {problem.problem_id} is not synthetic: the synthetic roles need dataset=synthetic "
            "(for other data sets choose an LLM teacher/answerer/judge)"
        )
    return problem.world


_SPLITS: dict[tuple[str, int, int, str], list[SyntheticProblem]] = {}  # generate_split's results in this process


def generate_split(split: str, n: int, seed: int, config: WorldConfig | Any) -> list[SyntheticProblem]:
    """``n`` distinct problems of one split, a pure function of (split, n, seed, config); ``config`` is world v1's
    ``WorldConfig`` or any generator config with ``min_steps``, ``max_steps`` and ``problem(rng, n_steps)``
    (world v2's ``GraphWorldConfig``). Kept per process: a run loads each split more than once, and a sweep's
    worker process runs many runs of a seed (drawing a small split by rejection took seconds a load)."""
    if split not in SPLIT_BUCKETS:
        raise ValueError(f"unknown split {split!r}; valid splits: {sorted(SPLIT_BUCKETS)}")
    key = (split, n, seed, repr(config))  # a config dataclass's repr holds every field
    if key not in _SPLITS:
        if len(_SPLITS) >= 32:
            _SPLITS.pop(next(iter(_SPLITS)))
        _SPLITS[key] = draw_split(split, n, seed, config)
    return list(_SPLITS[key])


def draw_split(split: str, n: int, seed: int, config: WorldConfig | Any) -> list[SyntheticProblem]:
    """``generate_split`` drawn anew: problems from the seeded stream, kept when their text hashes into the split."""
    rng = random.Random(f"{seed}-{split}")
    buckets = set(SPLIT_BUCKETS[split])
    problems: list[SyntheticProblem] = []
    seen: set[str] = set()
    attempts = 0
    while len(problems) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise RuntimeError(f"could only make {len(problems)} of {n} distinct {split} problems")
        n_steps = rng.randint(config.min_steps, config.max_steps)
        world = config.problem(rng, n_steps)
        if world is None or world.text in seen or text_bucket(world.text) not in buckets:
            continue
        seen.add(world.text)
        pid = f"syn-{hashlib.sha1(world.text.encode()).hexdigest()[:12]}"
        problems.append(SyntheticProblem(pid, world.text, float(world.answer), world))
    return problems
