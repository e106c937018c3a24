"""A probe for the next training speed-up (issue 13, time to accuracy), not product code.

The BC loss of batches of the main job's Filtered BC episodes (whole problems, about 8 episodes a batch), computed
(a) as training does now, every episode through the whole model, (b) "shared": each problem's prompt run once and
its samples' actions run from that prompt's KV cache, and (c) "packed": each problem as one sequence, its prompt
once and then each sample's actions, with an attention mask that keeps each sample to the prompt and its own
tokens, and positions that restart after the prompt (one forward pass). Prints the losses for five batches (they
must agree), then forward + backward milliseconds per episode, alternating, three times. Run alone, from the
checkout:

    python experiments/bench/prompt_sharing_probe.py [--check] [--threads N]   # --check: the losses only

Training with packed batches was a patch (a ``pack_samples`` option of the BC objective, with tests; in git history
at commit 5564f2f, ``experiments/bench/pack_samples.patch``), not merged and since deleted: per optimiser step it
learned far less, see ``prompt_sharing_probe.txt``.
"""

import collections
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from distill.core.parts import build_parts
from distill.core.teacher_runs import annotate_batch
from distill.training.episodes import collate
from distill.training.selection import select_records

torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2)
with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[2] / "conf"), version_base="1.3"):
    cfg = compose(config_name="train")
parts = build_parts(cfg)
records, _ = annotate_batch(parts.dataset.load("train"), parts.teacher, parts.answerer, parts.judge, 4)
kept = select_records(records, 1.0, None)
corpus = [r.problem for r in records] + [q for r in records for q in r.subquestions]
torch.manual_seed(0)
student = instantiate(cfg.student)(corpus=corpus)
model = student.model.train()
by_problem = collections.defaultdict(list)
for r in kept:
    by_problem[r.problem].append(student.episode(r.problem, r.subquestions))


def padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), max(map(len, rows))), student.pad_id)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def plain_loss(episodes) -> tuple[torch.Tensor, int]:
    b = collate([{"input_ids": e.input_ids, "action_mask": e.action_mask} for e in episodes], student.pad_id)
    hidden = model.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state[:, :-1]
    keep = b["action_mask"][:, 1:] > 0
    return F.cross_entropy(model.lm_head(hidden[keep]), b["input_ids"][:, 1:][keep], reduction="sum"), int(keep.sum())


def shared_loss(groups) -> tuple[torch.Tensor, int]:
    prompts, owner, actions = [], [], []
    for g, episodes in enumerate(groups):
        first = episodes[0].action_mask.index(1)  # the prompt: the tokens before the first action
        prompts.append(episodes[0].input_ids[:first])
        for e in episodes:
            assert e.input_ids[:first] == prompts[-1]
            owner.append(g)
            actions.append(e.input_ids[first:])
    p_ids, p_mask = padded(prompts)
    out = model.model(input_ids=p_ids, attention_mask=p_mask, use_cache=True)
    owner_t, lengths = torch.tensor(owner), p_mask.sum(1)
    last = out.last_hidden_state[torch.arange(len(prompts)), lengths - 1][owner_t]  # predicts each first action
    cache = out.cache
    cache.reorder_cache(owner_t)  # each sample gets its problem's prompt keys and values
    a_ids, a_mask = padded(actions)
    mask = torch.cat([p_mask[owner_t], a_mask], dim=1)
    positions = lengths[owner_t][:, None] + torch.arange(a_ids.shape[1])[None]
    hidden = model.model(
        input_ids=a_ids[:, :-1],
        attention_mask=mask[:, :-1],
        position_ids=positions[:, :-1],
        cache=cache,
        use_cache=True,
    ).last_hidden_state
    hidden = torch.cat([last[:, None], hidden], dim=1)  # predicts actions 1..n
    keep = a_mask > 0
    return F.cross_entropy(model.lm_head(hidden[keep]), a_ids[keep], reduction="sum"), int(keep.sum())


def pack(episodes):
    """One problem's episodes as one row: ids, positions, segment (0: prompt, j: sample j), and for each action
    token the index of the position that predicts it."""
    first = episodes[0].action_mask.index(1)
    ids, positions, segments, sources = list(episodes[0].input_ids[:first]), list(range(first)), [0] * first, []
    for j, e in enumerate(episodes, 1):
        for i, token in enumerate(e.input_ids[first:]):
            sources.append(first - 1 if i == 0 else len(ids) - 1)
            ids.append(token)
            positions.append(first + i)
            segments.append(j)
    return ids, positions, segments, sources


def packed_loss(groups) -> tuple[torch.Tensor, int]:
    rows = [pack(g) for g in groups]
    width = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), width), student.pad_id)
    positions = torch.zeros(len(rows), width, dtype=torch.long)
    segments = torch.full((len(rows), width), -1)
    row_of, source_of, target_of = [], [], []
    for b, (row_ids, row_positions, row_segments, sources) in enumerate(rows):
        n = len(row_ids)
        ids[b, :n], positions[b, :n], segments[b, :n] = (
            torch.tensor(row_ids),
            torch.tensor(row_positions),
            torch.tensor(row_segments),
        )
        row_of += [b] * len(sources)
        source_of += sources
        target_of += range(row_segments.index(1), n)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    allow = (
        causal
        & ((segments[:, None, :] == 0) | (segments[:, None, :] == segments[:, :, None]))
        & (segments[:, None, :] >= 0)
    )
    allow |= torch.eye(width, dtype=torch.bool)  # padding rows attend to themselves (no empty row)
    mask = torch.zeros(allow.shape).masked_fill(~allow, float("-inf"))[:, None]
    hidden = model.model(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
    row_of, source_of, target_of = torch.tensor(row_of), torch.tensor(source_of), torch.tensor(target_of)
    logits = model.lm_head(hidden[row_of, source_of])
    return F.cross_entropy(logits, ids[row_of, target_of], reduction="sum"), len(target_of)


batches, current = [], []
for episodes in list(by_problem.values())[:600]:
    current.append(episodes)
    if sum(map(len, current)) >= 8:
        batches.append(current)
        current = []
for b in batches[:5]:
    (a, n1), (c, n2), (d, n3) = plain_loss([e for g in b for e in g]), shared_loss(b), packed_loss(b)
    print(
        "loss plain %.5f shared %.5f packed %.5f tokens %d %d %d"
        % (a.item() / n1, c.item() / n2, d.item() / n3, n1, n2, n3)
    )
if "--check" in sys.argv:
    sys.exit(0)


def run(way) -> float:
    start, n = time.perf_counter(), 0
    for b in batches:
        model.zero_grad(set_to_none=True)
        loss, _ = way(b) if way is not plain_loss else plain_loss([e for g in b for e in g])
        loss.backward()
        n += sum(map(len, b))
    return 1000 * (time.perf_counter() - start) / n


for way in (plain_loss, shared_loss, packed_loss):
    run(way)  # warm-up
for _ in range(3):
    print(
        "ms/episode plain %.3f shared %.3f packed %.3f" % (run(plain_loss), run(shared_loss), run(packed_loss)),
        flush=True,
    )
