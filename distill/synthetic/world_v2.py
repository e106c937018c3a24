"""World v2: problems from a dependency graph, facts in shuffled order, distractors that look like steps.

World v1 (``distill.synthetic.world``, ``dataset=synthetic_v1``) states facts in dependency order and builds
each step on the previous one, so asking "How many <item> does <person> have?" once per sentence, in order,
solves it. Here, after iGSM (Ye et al. 2024) and GSM-NoOp (Mirzadeh et al. 2024):

- the target's quantities form a graph: a step may combine the chain so far with a side branch ("together",
  "the difference between"), so which quantity to ask for first is a decision;
- every fact, needed or not, is stated in a shuffled order;
- irrelevant facts and irrelevant *derived* chains, built from the same relations as the needed steps;
- several surface templates per relation and per question, and pools of hundreds of names and dozens of
  items, so that copying the right entity is a skill.

It reuses world v1's ``Quantity`` and ``WorldProblem`` (the roles read only those); ``GraphWorldConfig`` is
its generator and its knobs (``conf/dataset/synthetic.yaml``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import ClassVar

from distill.synthetic.world import FACT_FORMS, QUESTION_FORMS, Quantity, WorldProblem, apply_op

# 20 x 16 = 320 names, made up so that no pretrained prior tells them apart: copying them is learnt
_HEADS = [
    "Al",
    "Be",
    "Ca",
    "Da",
    "El",
    "Fa",
    "Ga",
    "Ha",
    "Is",
    "Jo",
    "Ka",
    "Li",
    "Ma",
    "Ne",
    "Ol",
    "Pe",
    "Ra",
    "Sa",
    "Te",
    "Vi",
]
_TAILS = ["n", "ra", "ko", "lia", "mon", "ny", "sa", "to", "vin", "der", "ric", "na", "lo", "ria", "th", "bel"]
NAMES = [h + t for h in _HEADS for t in _TAILS]
ITEMS = [
    "apples",
    "marbles",
    "stickers",
    "books",
    "coins",
    "pencils",
    "shells",
    "cards",
    "stamps",
    "cookies",
    "buttons",
    "candles",
    "crayons",
    "cups",
    "dolls",
    "erasers",
    "feathers",
    "flowers",
    "gloves",
    "hats",
    "jars",
    "keys",
    "kites",
    "lemons",
    "magnets",
    "maps",
    "mugs",
    "nails",
    "notebooks",
    "oranges",
    "pebbles",
    "pens",
    "plates",
    "puzzles",
    "ribbons",
    "rings",
    "rocks",
    "seeds",
    "socks",
    "spoons",
    "tickets",
    "toys",
]


@dataclass
class GraphWorldConfig:
    """Knobs of world v2's problem generator."""

    name: ClassVar[str] = "synthetic-v2"  # the data set's name in results

    min_steps: int = 2  # operations the target needs (derived quantities), drawn from [min, max]
    max_steps: int = 5
    combine_rate: float = 0.4  # chance that a step combines the chain with a new side branch (2 steps)
    min_given_distractors: int = 1  # stated facts the answer does not need
    max_given_distractors: int = 2
    min_distractor_chains: int = 1  # irrelevant derived chains (each 1..max_chain_length steps)
    max_distractor_chains: int = 2
    max_chain_length: int = 2
    shuffle_facts: bool = True  # facts in random order (False: dependency order, then interleave and window)
    interleave: bool = False  # with shuffle_facts false: distractor facts placed among the needed ones (a
    #   random order that respects dependencies), so the needed facts are no prefix
    window: int = 0  # with shuffle_facts false: each fact moves up to this many places from that
    #   order (0: dependencies always come first; large: close to shuffled)
    templates: int = (
        3  # surface templates in use per relation and per question (1..3 facts, 1..6 questions: twice this)
    )
    n_names: int = 320  # size of the name pool (at most 320)
    n_items: int = 42  # size of the item pool (at most 42)
    op_weights: dict[str, float] = field(
        default_factory=lambda: {"add": 1.0, "sub": 1.0, "mul": 1.0, "div": 0.6, "sum": 0.5, "diff": 0.5}
    )
    item_change_rate: float = 0.3  # share of one-input steps whose item differs from their source's
    starts_with_rate: float = 0.3  # share of given facts phrased "X starts with N ..." (a teacher habit's cue)

    def __post_init__(self) -> None:
        if not 1 <= self.min_steps <= self.max_steps <= 10:
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 10, got {self.min_steps}..{self.max_steps}")
        if not 1 <= self.templates <= len(FACT_FORMS["add"]):
            raise ValueError(f"templates must lie in 1..{len(FACT_FORMS['add'])}, got {self.templates}")
        if not 2 <= self.n_names <= len(NAMES) or not 2 <= self.n_items <= len(ITEMS):
            raise ValueError(
                f"n_names in 2..{len(NAMES)} and n_items in 2..{len(ITEMS)}, got {self.n_names}, {self.n_items}"
            )
        unknown = set(self.op_weights) - set(FACT_FORMS) - {"given"} or set(self.op_weights) & {"given"}
        if unknown:
            raise ValueError(
                f"unknown operations {sorted(unknown)}; valid: {', '.join(k for k in FACT_FORMS if k != 'given')}"
            )
        if self.window < 0:
            raise ValueError(f"window must be >= 0, got {self.window}")
        if self.shuffle_facts and (self.interleave or self.window):
            raise ValueError("interleave and window order facts that are not shuffled: set shuffle_facts=false")

    def problem(self, rng: random.Random, n_steps: int) -> WorldProblem | None:
        return generate_graph_problem(rng, self, n_steps)


def generate_graph_problem(rng: random.Random, config: GraphWorldConfig, n_steps: int) -> WorldProblem | None:
    """One problem whose target needs ``n_steps`` operations, or None on a dead end."""
    build = _GraphBuilder(rng, config)
    target = build.target_chain(n_steps)
    if target is None or not build.distractors():
        return None
    order = list(range(len(build.quantities)))  # dependency order: the needed facts first, then the distractors
    if config.shuffle_facts:
        rng.shuffle(order)
    else:  # each draw only under its knob, so that the knobs' defaults keep every earlier problem
        if config.interleave:
            order = random_topological_order(rng, build.quantities)
        if config.window:
            order = local_shuffle(rng, order, config.window)
    world = WorldProblem(build.quantities, target, order, question_form=rng.randrange(build.n_questions))
    return world if world.n_steps == n_steps else None


class _GraphBuilder:
    """The quantities of one problem as they are drawn (the order of the draws is the problem's identity)."""

    def __init__(self, rng: random.Random, config: GraphWorldConfig) -> None:
        self.rng, self.config = rng, config
        self.names = rng.sample(NAMES[: config.n_names], config.n_names)
        self.items = ITEMS[: config.n_items]
        self.one_input = [op for op in config.op_weights if op not in ("sum", "diff")]
        self.n_questions = min(2 * config.templates, len(QUESTION_FORMS))
        self.quantities: list[Quantity] = []
        self.used: set[tuple[str, str]] = set()

    def fresh_person(self, item: str) -> str | None:
        used_names = {n for n, _ in self.used}
        for name in sorted(self.names, key=lambda n: n in used_names):  # a new person while names last
            if (name, item) not in self.used:
                self.used.add((name, item))
                return name
        return None

    def add(self, item: str, value: int, op: str, deps: tuple[int, ...] = (), const: int = 0) -> int | None:
        person = self.fresh_person(item)
        if person is None:
            return None
        phrasing = "starts with" if op == "given" and self.rng.random() < self.config.starts_with_rate else "has"
        form = self.rng.randrange(self.config.templates)
        self.quantities.append(
            Quantity(person, item, value, op, deps, const, phrasing, fact_form=form, n_questions=self.n_questions)
        )
        return len(self.quantities) - 1

    def given(self, item: str | None = None) -> int | None:
        return self.add(item or self.rng.choice(self.items), self.rng.randint(2, 30), "given")

    def step(self, base: int, op: str) -> int | None:
        """A one-input step from ``base`` (a few tries at constants that keep values in range)."""
        rng = self.rng
        for _ in range(20):
            draws = [rng.randint(2, 9), rng.randint(1, 9), rng.randint(2, 3), rng.choice([2, 2, 3, 4])]
            const = dict(zip(("add", "sub", "mul", "div"), draws))[op]  # every draw, as the world always made
            value = apply_op(op, const, [self.quantities[base].value])
            if value is not None:
                item = self.quantities[base].item
                if rng.random() < self.config.item_change_rate:
                    item = rng.choice([i for i in self.items if i != item])
                return self.add(item, value, op, (base,), const)
        return None

    def combine(self, a: int, b: int, op: str) -> int | None:
        q = self.quantities
        first, second = (a, b) if op == "sum" or q[a].value > q[b].value else (b, a)
        value = apply_op(op, 0, [q[first].value, q[second].value])
        return None if value is None else self.add(q[a].item, value, op, (first, second))

    def target_chain(self, n_steps: int) -> int | None:
        """The target's quantities: a chain of ``n_steps`` operations, some combining it with a side branch."""
        rng, config = self.rng, self.config
        ops, weights = zip(*config.op_weights.items())
        current, left = self.given(), n_steps
        while left > 0 and current is not None:
            op = rng.choices(ops, weights)[0]
            item = self.quantities[current].item
            if op in ("sum", "diff") and left >= 2 and rng.random() < config.combine_rate:
                # a side branch of one step from a new given of the same item, then the combination
                side = self.given(item)
                side = self.step(side, rng.choice(self.one_input)) if side is not None else None
                if side is None or self.quantities[side].item != item:
                    return None
                current, left = self.combine(current, side, op), left - 2
            elif op in ("sum", "diff"):
                other = self.given(item)  # "together with" a stated quantity: one step
                current, left = (self.combine(current, other, op) if other is not None else None), left - 1
            else:
                current, left = self.step(current, op), left - 1
        return current

    def distractors(self) -> bool:
        """Given facts and derived chains the target does not need; False on a dead end."""
        rng, config = self.rng, self.config
        for _ in range(rng.randint(config.min_given_distractors, config.max_given_distractors)):
            if self.given() is None:
                return False
        for _ in range(rng.randint(config.min_distractor_chains, config.max_distractor_chains)):
            head: int | None = rng.randrange(len(self.quantities))  # from any quantity: it looks like a step
            for _ in range(rng.randint(1, config.max_chain_length)):
                head = self.step(head, rng.choice(self.one_input)) if head is not None else None
                if head is None:
                    return False
        return True


def random_topological_order(rng: random.Random, quantities: list[Quantity]) -> list[int]:
    """A random order in which every quantity comes after the ones it is made from: needed facts and
    distractors interleaved (each next fact drawn from those whose inputs are stated)."""
    order: list[int] = []
    placed: set[int] = set()
    ready = [i for i, q in enumerate(quantities) if not q.deps]
    while ready:
        i = ready.pop(rng.randrange(len(ready)))
        order.append(i)
        placed.add(i)
        ready += [
            j
            for j, q in enumerate(quantities)
            if j not in placed and j not in ready and q.deps and all(d in placed for d in q.deps)
        ]
    return order


def local_shuffle(rng: random.Random, order: list[int], window: int) -> list[int]:
    """``order`` with each element moved at most ``window`` places (sorted by position plus a draw in
    [0, window + 1)): a fact and its inputs stay close, but an input may come after the fact that uses it."""
    keys = [position + rng.uniform(0, window + 1) for position in range(len(order))]
    return [i for _, i in sorted(zip(keys, order))]
