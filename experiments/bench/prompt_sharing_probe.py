"""A probe for the next training speed-up (issue 13, time to accuracy), not product code.

The BC loss of batches of the main job's Filtered BC episodes (whole problems, about 8 episodes a batch), computed
(a) as training does now, every episode through the whole model, and (b) with each problem's prompt run once and
its samples' actions run from that prompt's KV cache. Prints both losses for five batches (they must agree), then
forward + backward milliseconds per episode, alternating, three times. Run alone, from the checkout:

    python experiments/bench/prompt_sharing_probe.py [--check]     # --check: the losses only
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

torch.set_num_threads(2)
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
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def plain_loss(episodes) -> tuple[torch.Tensor, int]:
    b = collate([{"input_ids": e.input_ids, "action_mask": e.action_mask} for e in episodes], student.pad_id)
    hidden = model.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state[:, :-1]
    keep = b["action_mask"][:, 1:] > 0
    return F.cross_entropy(model.lm_head(hidden[keep]), b["input_ids"][:, 1:][keep], reduction="sum"), int(keep.sum())


def shared_loss(groups) -> tuple[torch.Tensor, int]:
    prompts, owner, actions = [], [], []
    for g, episodes in enumerate(groups):
        first = episodes[0].action_mask.index(1)   # the prompt: the tokens before the first action
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
    cache.reorder_cache(owner_t)                     # each sample gets its problem's prompt keys and values
    a_ids, a_mask = padded(actions)
    mask = torch.cat([p_mask[owner_t], a_mask], dim=1)
    positions = lengths[owner_t][:, None] + torch.arange(a_ids.shape[1])[None]
    hidden = model.model(input_ids=a_ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                         cache=cache, use_cache=True).last_hidden_state
    hidden = torch.cat([last[:, None], hidden], dim=1)  # predicts actions 1..n
    keep = a_mask > 0
    return F.cross_entropy(model.lm_head(hidden[keep]), a_ids[keep], reduction="sum"), int(keep.sum())


batches, current = [], []
for episodes in list(by_problem.values())[:600]:
    current.append(episodes)
    if sum(map(len, current)) >= 8:
        batches.append(current)
        current = []
for b in batches[:5]:
    (a, n1), (c, n2) = plain_loss([e for g in b for e in g]), shared_loss(b)
    print("loss plain %.5f shared %.5f tokens %d %d" % (a.item() / n1, c.item() / n2, n1, n2))
if "--check" in sys.argv:
    sys.exit(0)


def run(shared: bool) -> float:
    start, n = time.perf_counter(), 0
    for b in batches:
        model.zero_grad(set_to_none=True)
        loss, _ = shared_loss(b) if shared else plain_loss([e for g in b for e in g])
        loss.backward()
        n += sum(map(len, b))
    return 1000 * (time.perf_counter() - start) / n


run(False)
run(True)
for _ in range(3):
    print("ms/episode plain %.3f shared %.3f" % (run(False), run(True)), flush=True)
