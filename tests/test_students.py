import pytest
import torch
from conftest import greedy_uncached, scratch_student

from distill.algorithms.logprobs import action_logps, grouped_action_logps, length_chunks, masked_nll
from distill.measurement.decoding import LMScorer, decode_tokens
from distill.students.student import Student
from distill.synthetic.dataset import SyntheticDataset
from distill.training.episodes import LengthBucketSampler, collate


@pytest.fixture(scope="module")
def problems():
    return SyntheticDataset(sizes={"train": 60}, world={}).load("train")


def student_for(problems, arch="llama"):
    corpus = [p.text for p in problems] + ["How many What is the number of that has end up with ?"]
    return scratch_student(corpus, arch=arch, n_layer=2, d_model=32, n_head=2, d_ff=64)


def test_episode_layout_and_parse_round_trip(problems):
    s = student_for(problems)
    qs = ["How many apples does Tom have?", "What is the number of books that Anna has?"]
    e = s.episode(problems[0].text, qs)
    prompt_len = len(s.prompt_ids(problems[0].text))
    assert e.action_mask == [0] * prompt_len + [1] * (len(e.input_ids) - prompt_len)
    assert e.input_ids[prompt_len - 1] == s.tokenizer.convert_tokens_to_ids("[SEP]")
    assert e.input_ids[-1] == s.eos_id and e.terminators[-1] == len(e.input_ids) - 1
    assert e.input_ids[e.terminators[0]] == s.tokenizer.convert_tokens_to_ids("[DELIM]")
    assert s.parse(e.input_ids[prompt_len:]) == qs


def test_loss_mask_excludes_prompt_and_padding(problems):
    s = student_for(problems)
    items = []
    for p in problems[:3]:
        e = s.episode(p.text, ["How many apples does Tom have?"])
        items.append({"input_ids": e.input_ids, "action_mask": e.action_mask})
    batch = collate(items, s.pad_id)
    torch.manual_seed(0)
    logits = torch.randn(*batch["input_ids"].shape, 200)
    base = masked_nll(logits, batch["input_ids"], batch["action_mask"])
    # position t predicts token t + 1: logits at positions whose next token is prompt or padding
    # must not matter, logits predicting an action token must
    predicts_action = torch.zeros_like(batch["action_mask"], dtype=torch.bool)
    predicts_action[:, :-1] = batch["action_mask"][:, 1:].bool()
    changed = logits.clone()
    changed[~predicts_action] = torch.randn_like(changed[~predicts_action]) * 10
    assert torch.allclose(masked_nll(changed, batch["input_ids"], batch["action_mask"]), base)
    changed = logits.clone()
    changed[predicts_action] += torch.randn_like(changed[predicts_action]) * 10
    assert not torch.allclose(masked_nll(changed, batch["input_ids"], batch["action_mask"]), base)
    # padding is really there in this batch, and masked
    assert (batch["attention_mask"] == 0).any()
    assert (batch["action_mask"][batch["attention_mask"] == 0] == 0).all()


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_action_logps_equal_the_full_logits_on_action_positions(problems, arch):
    """The output layer on action positions only gives the same log-probabilities as the whole forward pass."""
    s = student_for(problems, arch=arch)
    items = []
    for p in problems[:4]:
        e = s.episode(
            p.text, ["How many apples does Tom have?", "How many pencils does Dan have?"][: 1 + len(items) % 2]
        )
        items.append({"input_ids": e.input_ids, "action_mask": e.action_mask})
    batch = collate(items, s.pad_id)
    s.model.eval()
    with torch.no_grad():
        logits = s.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        full = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
        fast = action_logps(s.model, batch["input_ids"], batch["attention_mask"], batch["action_mask"])
    mask = batch["action_mask"][:, 1:].bool()
    assert torch.allclose(fast[mask], full[mask], atol=1e-5) and (fast[~mask] == 0).all()
    nll = masked_nll(logits, batch["input_ids"], batch["action_mask"])
    assert torch.allclose(-fast.sum() / mask.sum(), nll, atol=1e-5)


def test_length_buckets_cover_every_item_once():
    lengths = [(i * 37) % 101 for i in range(250)]
    batches = list(LengthBucketSampler(lengths, batch_size=16, pool=4))
    assert sorted(i for b in batches for i in b) == list(range(250))
    # within a batch lengths are close: sorted pools keep the spread far below random batches'
    spread = max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread < 40


def test_data_parallel_processes_share_out_the_one_process_sequence_and_resume():
    from itertools import islice

    lengths = [(i * 37) % 101 for i in range(90)]
    one = list(islice(iter(LengthBucketSampler(lengths, 8, endless=True)), 30))  # beyond one epoch (12 batches)
    ranks = [
        list(islice(iter(LengthBucketSampler(lengths, 8, endless=True, rank=r, world_size=3)), 10)) for r in range(3)
    ]
    assert [ranks[i % 3][i // 3] for i in range(30)] == one  # interleaved, they are the single-process batches
    # a process resumed after 4 of its own batches continues with its 5th
    resumed = list(islice(iter(LengthBucketSampler(lengths, 8, endless=True, rank=1, world_size=3, start=4)), 6))
    assert resumed == ranks[1][4:10]


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_cached_batched_greedy_equals_uncached(problems, arch):
    s = student_for(problems, arch)
    s.model.eval()
    # prompts of different lengths, so that left padding is exercised
    prompts = [s.prompt_ids(p.text)[-n:] for p, n in zip(problems[:6], [40, 25, 33, 12, 40, 7])]
    cached = decode_tokens(LMScorer(s.model), prompts, s.eos_id, s.pad_id, max_new_tokens=25)
    reference = [greedy_uncached(s.model, p, s.eos_id, 25) for p in prompts]
    assert cached == reference


def test_sampling_is_seeded(problems):
    s = student_for(problems)
    prompts = [s.prompt_ids(p.text) for p in problems[:4]]
    runs = [
        decode_tokens(
            LMScorer(s.model),
            prompts,
            s.eos_id,
            s.pad_id,
            max_new_tokens=10,
            sample=True,
            generator=torch.Generator().manual_seed(seed),
        )
        for seed in (1, 1, 2)
    ]
    assert runs[0] == runs[1] != runs[2]


def test_save_and_load_round_trip(problems, tmp_path):
    s = student_for(problems)
    s.save(tmp_path / "student")
    loaded = Student.load(tmp_path / "student")
    ids = torch.tensor([s.prompt_ids(problems[0].text)])
    assert torch.allclose(s.model(input_ids=ids).logits, loaded.model(input_ids=ids).logits)
    assert loaded.separator == "[SEP]" and loaded.tokenizer.get_vocab() == s.tokenizer.get_vocab()


def test_unknown_arch_is_rejected(problems):
    with pytest.raises(ValueError, match="valid: gpt2, llama"):
        scratch_student([p.text for p in problems], arch="mamba")


def test_length_chunks_minimise_padding_plus_overhead():
    assert length_chunks([5, 1, 5, 1], overhead=0) == [[1, 3], [0, 2]]  # no padding at all
    assert length_chunks([5, 1, 5, 1], overhead=100) == [[1, 3, 0, 2]]  # one call beats 8 padded tokens
    assert length_chunks([3, 1, 2], overhead=1) == [[1], [2, 0]]  # (1 + 1) + (6 + 1) < 9 + 1
    assert length_chunks([10, 1, 2, 9], overhead=3) == [[1, 2], [3, 0]]  # 4 + 20 + 6 < 40 + 3
    assert sorted(sum(length_chunks(list(range(50)), overhead=7), [])) == list(range(50))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("chunk_overhead", [0, 10_000])
def test_grouped_logps_share_each_prompt_and_equal_the_whole_sequences(problems, arch, chunk_overhead):
    """Three prompts of different lengths, two samples each of different lengths: the log-probabilities and their
    gradients with each prompt run once equal those of the six concatenated sequences (dropout off), whether the
    actions run in one padded chunk or in one chunk per length."""

    s = student_for(problems, arch=arch)
    s.model.train()
    questions = ["How many apples does Tom have?", "How many pencils does Dan have?"]
    prompts = [s.prompt_ids(p.text) for p in problems[:3]]
    assert len({len(p) for p in prompts}) > 1  # the prompts' padding differs
    actions = [s.encode(" ".join(questions[: 1 + (i + j) % 2])) + [s.eos_id] for i in range(3) for j in range(2)]
    whole = collate(
        [
            {"input_ids": prompts[r // 2] + a, "action_mask": [0] * len(prompts[r // 2]) + [1] * len(a)}
            for r, a in enumerate(actions)
        ],
        s.pad_id,
    )
    reference = action_logps(s.model, whole["input_ids"], whole["attention_mask"], whole["action_mask"])
    reference_grad = torch.autograd.grad(reference.sum(), list(s.model.parameters()), allow_unused=True)
    p = collate([{"input_ids": ids} for ids in prompts], s.pad_id)
    a = collate([{"input_ids": ids} for ids in actions], s.pad_id)
    assert len(length_chunks(a["attention_mask"].sum(1).tolist(), chunk_overhead)) == (2 if chunk_overhead == 0 else 1)
    grouped = grouped_action_logps(
        s.model, p["input_ids"], p["attention_mask"], a["input_ids"], a["attention_mask"], 2, chunk_overhead
    )
    grouped_grad = torch.autograd.grad(grouped.sum(), list(s.model.parameters()), allow_unused=True)
    mask = whole["action_mask"][:, 1:].bool()
    assert torch.allclose(grouped[a["attention_mask"].bool()], reference[mask], atol=1e-5)
    assert (grouped[~a["attention_mask"].bool()] == 0).all()
    for mine, theirs in zip(grouped_grad, reference_grad):
        assert (mine is None) == (theirs is None) and (mine is None or torch.allclose(mine, theirs, atol=1e-5))


def test_grouped_logps_at_a_temperature_are_those_of_the_sampling_distribution(problems):
    """At temperature T each action token's log-probability is log softmax(logits / T) of the whole sequence (as
    TRL computes policy, old policy and reference), so a ratio against the policy that sampled at T is 1 at the
    first update; at T = 1 it is the plain log-probability."""
    s = student_for(problems)
    s.model.eval()
    prompts = [s.prompt_ids(p.text) for p in problems[:2]]
    actions = [s.encode("How many apples does Tom have?") + [s.eos_id] for _ in range(4)]
    p = collate([{"input_ids": ids} for ids in prompts], s.pad_id)
    a = collate([{"input_ids": ids} for ids in actions], s.pad_id)
    for temperature in (0.5, 1.0):
        grouped = grouped_action_logps(s.model, p["input_ids"], p["attention_mask"], a["input_ids"],
                                       a["attention_mask"], 2, temperature=temperature)  # fmt: skip
        for row, action in enumerate(actions):
            ids = torch.tensor([prompts[row // 2] + action])
            logits = s.model(input_ids=ids).logits[0, len(prompts[row // 2]) - 1 : -1].float() / temperature
            expected = torch.log_softmax(logits, -1).gather(1, torch.tensor(action)[:, None])[:, 0]
            assert torch.allclose(grouped[row, : len(action)], expected, atol=1e-5)
    cold = grouped_action_logps(s.model, p["input_ids"], p["attention_mask"], a["input_ids"], a["attention_mask"], 2,
                                temperature=0.5)  # fmt: skip
    plain = grouped_action_logps(s.model, p["input_ids"], p["attention_mask"], a["input_ids"], a["attention_mask"], 2)
    assert not torch.allclose(cold, plain)
