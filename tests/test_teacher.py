"""The synthetic teacher's error rates, measured from its output text against its configuration."""

import pytest

from distill.core.final_answer import is_correct
from distill.synthetic.answerer import SyntheticAnswerer
from distill.synthetic.dataset import SyntheticDataset
from distill.synthetic.teacher import SyntheticTeacher

NEVER_WRONG = dict(distraction=0.0, misread=0.0, slip=0.0, guess=0.0, seed=0)  # world v1's answerer
OFF = dict(
    distractor_scale=0.0,
    habit_merge_division=0.0,
    habit_cut_long=0.0,
    habit_ask_starts_with=0.0,
    skip=0.0,
    swap=0.0,
    stop_early=0.0,
    repeat=0.0,
    distractor=0.0,
    ask_given=0.0,
    difficulty_scale=0.0,
)
# measured rates must lie within this absolute distance of the configured ones (a binomial rate over
# >= 2,000 trials has a standard deviation below 0.011, so 0.04 is more than three of them)
TOL = 0.04


@pytest.fixture(scope="module")
def problems():
    return SyntheticDataset(sizes={"train": 1500}, world={}).load("train")


def asked(problem, decomposition):
    return [problem.world.match(q) for q in decomposition.subquestions]


def test_no_errors_gives_the_gold_decomposition(problems):
    teacher = SyntheticTeacher(**OFF)
    for p in problems[:200]:
        for d in teacher.decompose([p], 2)[0]:
            assert asked(p, d) == p.world.gold_order()


def test_habit_merge_division_rate(problems):
    teacher = SyntheticTeacher(**{**OFF, "habit_merge_division": 0.7})
    hits = trials = 0
    for p in problems:
        w = p.world
        divisions = [i for i in w.gold_order() if w.quantities[i].op == "div" and i != w.target]
        for d in teacher.decompose([p], 4)[0]:
            q = set(asked(p, d))
            if divisions:
                trials += 1
                hits += not any(i in q for i in divisions)
            else:
                assert sorted(q) == w.gold_order()  # the habit never fires without its cue
    assert trials > 500
    assert abs(hits / trials - 0.7) < TOL


def test_habit_is_systematic_error_is_the_mode(problems):
    """On the habit's problems, most samples skip the step, and some samples are still right."""
    teacher = SyntheticTeacher(**{**OFF, "habit_merge_division": 0.75})
    answerer = SyntheticAnswerer(k=1, **NEVER_WRONG)
    mostly_wrong = with_a_right_sample = cued = 0
    for p in problems[:600]:
        w = p.world
        if not any(w.quantities[i].op == "div" and i != w.target for i in w.gold_order()):
            continue
        cued += 1
        samples = teacher.decompose([p], 8)[0]
        right = [is_correct(a.text, p.true_answer) for a in answerer.answer([p] * 8, [d.subquestions for d in samples])]
        mostly_wrong += sum(right) < 4
        with_a_right_sample += any(right)
    assert mostly_wrong / cued > 0.8
    assert with_a_right_sample / cued > 0.8


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_skip_rate(problems, rate):
    teacher = SyntheticTeacher(**{**OFF, "skip": rate})
    skipped = opportunities = 0
    for p in problems:
        gold = p.world.gold_order()
        for d in teacher.decompose([p], 2)[0]:
            q = asked(p, d)
            opportunities += len(gold) - 1  # the target is never skipped
            skipped += len(gold) - len(q)
            assert q[-1] == p.world.target
    assert abs(skipped / opportunities - rate) < TOL


def test_repeat_rate(problems):
    teacher = SyntheticTeacher(**{**OFF, "repeat": 0.2})
    repeats = opportunities = 0
    for p in problems:
        for d in teacher.decompose([p], 2)[0]:
            q = asked(p, d)
            repeats += sum(a == b for a, b in zip(q, q[1:]))
            opportunities += len(p.world.gold_order())
    assert abs(repeats / opportunities - 0.2) < TOL


def test_distractor_and_given_rates(problems):
    teacher = SyntheticTeacher(**{**OFF, "distractor": 0.25, "ask_given": 0.15})
    n = with_distractor = with_given = 0
    for p in problems:
        w = p.world
        chain = w.ancestors(w.target) | {w.target}
        for d in teacher.decompose([p], 2)[0]:
            q = asked(p, d)
            n += 1
            with_distractor += any(i not in chain for i in q)
            with_given += any(i in chain and w.quantities[i].given for i in q)
    assert abs(with_distractor / n - 0.25) < TOL
    assert abs(with_given / n - 0.15) < TOL


def test_difficulty_scale_makes_long_problems_err_more(problems):
    teacher = SyntheticTeacher(**{**OFF, "skip": 0.1, "difficulty_scale": 1.0})
    rates = {}
    for steps in (2, 4):
        subset = [p for p in problems if p.world.n_steps == steps]
        missing = sum(
            len(p.world.gold_order()) - len(asked(p, d)) for p in subset for d in teacher.decompose([p], 2)[0]
        )
        rates[steps] = missing / (2 * len(subset) * (steps - 1))
    assert abs(rates[2] - 0.1) < TOL
    assert abs(rates[4] - 0.3) < TOL


def test_teacher_is_deterministic(problems):
    a = [d.subquestions for d in SyntheticTeacher(seed=1, distractor_scale=0.0).decompose(problems[:50], 3) for d in d]
    b = [d.subquestions for d in SyntheticTeacher(seed=1, distractor_scale=0.0).decompose(problems[:50], 3) for d in d]
    c = [d.subquestions for d in SyntheticTeacher(seed=2, distractor_scale=0.0).decompose(problems[:50], 3) for d in d]
    assert a == b and a != c


def test_default_calibration(problems):
    """Teacher + k=1 answerer lands in the paper's ChatGPT range; stronger answerers do better."""
    teacher = SyntheticTeacher(distractor_scale=0.0)  # world v1's teacher
    samples = teacher.decompose(problems[:1000], 4)
    flat = [(p, d.subquestions) for p, ds in zip(problems, samples) for d in ds]
    acc = {}
    for k in (1, 2, 1000):
        answers = SyntheticAnswerer(k, **NEVER_WRONG).answer([p for p, _ in flat], [q for _, q in flat])
        acc[k] = sum(is_correct(a.text, p.true_answer) for a, (p, _) in zip(answers, flat)) / len(flat)
    assert 0.65 <= acc[1] <= 0.75
    assert acc[2] > acc[1] + 0.1
    assert acc[1000] > 0.97


def test_rates_are_validated():
    with pytest.raises(ValueError, match="skip"):
        SyntheticTeacher(skip=1.5, distractor_scale=0.0)
