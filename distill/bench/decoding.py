"""Decoding speed: our batched KV-cached decoding (greedy and ILQL's value-guided) against the paper's loop (every
model re-runs over the whole prefix at every token) and Transformers' ``generate``, on identical outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from distill.algorithms.ilql import ILQLScorer, ValueHeads
from distill.bench.common import best_time, row, timed
from distill.measurement.decoding import LMScorer, decode_tokens, left_pad


@torch.no_grad()
def paper_loop(
    models: list[torch.nn.Module],
    combine: Callable[[list[torch.Tensor]], torch.Tensor],
    prompts: list[list[int]],
    eos_id: int,
    pad_id: int,
    max_new_tokens: int,
) -> list[list[int]]:
    """The reference code's decoding: at every token, every model re-runs over the whole prefix (no cache)."""
    ids, mask = left_pad(prompts, pad_id)
    outputs: list[list[int]] = [[] for _ in prompts]
    done = torch.zeros(len(prompts), dtype=torch.bool)
    for _ in range(max_new_tokens):
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        outs = [
            m(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=True) for m in models
        ]
        tokens = combine(outs).argmax(-1)
        tokens = torch.where(done, torch.full_like(tokens, pad_id), tokens)
        for r in torch.nonzero(~done).flatten().tolist():
            outputs[r].append(int(tokens[r]))
        done |= tokens == eos_id
        if bool(done.all()):
            break
        ids = torch.cat([ids, tokens[:, None]], dim=1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return outputs


@torch.no_grad()
def hf_generate(
    model: torch.nn.Module, prompts: list[list[int]], eos_id: int, pad_id: int, max_new_tokens: int
) -> list[list[int]]:
    """Transformers' greedy ``generate`` on the same left-padded prompts, cut after EOS like ours."""
    ids, mask = left_pad(prompts, pad_id)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )[:, ids.shape[1] :].tolist()
    return [row[: row.index(eos_id) + 1] if eos_id in row else row for row in out]


def decoding_rows(student, problems, batch_sizes: list[int], max_new_tokens: int, repeats: int) -> Iterator[dict]:
    """Per batch size: problems per second, ours against the paper's loop and ``generate`` (greedy), and ours
    against the paper's loop value-guided (ILQL heads of random weights: the work, not the values, is timed)."""
    model = student.model.eval()
    prompts = [student.prompt_ids(p.text) for p in problems]
    heads = ValueHeads(model.config.hidden_size, model.get_output_embeddings().weight.shape[0]).eval()
    for bs in batch_sizes:
        batches = [prompts[i : i + bs] for i in range(0, len(prompts), bs)]

        def ours():  # one scorer per pass over the problems, as the evaluation builds it (decode_actions)
            scorer = LMScorer(model)
            return [
                o
                for b in batches
                for o in decode_tokens(scorer, b, student.eos_id, student.pad_id, max_new_tokens=max_new_tokens)
            ]

        def theirs():
            return [
                o
                for b in batches
                for o in paper_loop(
                    [model], lambda outs: outs[0].logits[:, -1], b, student.eos_id, student.pad_id, max_new_tokens
                )
            ]

        def generate():
            return [o for b in batches for o in hf_generate(model, b, student.eos_id, student.pad_id, max_new_tokens)]

        # the first run of each checks the outputs and counts as one of its timed runs
        (reference, t_ours), (paper, t_paper), (generated, t_gen) = (timed(f) for f in (ours, theirs, generate))
        assert paper == reference, "the paper's loop and ours decode differently"
        assert generated == reference, "generate() and ours decode differently"
        t_ours, t_paper, t_gen = (
            min(t, best_time(f, repeats - 1)) for t, f in ((t_ours, ours), (t_paper, theirs), (t_gen, generate))
        )
        n = len(prompts)
        setting = f"batch {bs}, {n} problems"
        yield row("decode_vs_paper_loop", n / t_ours, n / t_paper, "problems/s", setting)
        yield row("decode_vs_generate", n / t_ours, n / t_gen, "problems/s", setting)

        t_guided, t_guided_paper = _guided_times(student, model, heads, batches, max_new_tokens, repeats)
        yield row("ilql_decode_vs_paper_loop", n / t_guided, n / t_guided_paper, "problems/s", setting)


def _guided_times(student, model, heads, batches, max_new_tokens: int, repeats: int) -> tuple[float, float]:
    """Best seconds of value-guided decoding, ours (KV-cached) and the paper's loop, checked to agree."""
    eos, pad = student.eos_id, student.pad_id

    def guided():
        scorer = ILQLScorer(model, model, heads, 1.0)
        return [o for b in batches for o in decode_tokens(scorer, b, eos, pad, max_new_tokens=max_new_tokens)]

    def guided_paper():
        def combine(outs):
            logp = torch.log_softmax(outs[0].logits[:, -1].float(), -1)
            return logp + heads.target_advantage(outs[1].hidden_states[-1][:, -1])

        return [o for b in batches for o in paper_loop([model, model], combine, b, eos, pad, max_new_tokens)]

    (reference, t_guided), (paper, t_guided_paper) = timed(guided), timed(guided_paper)
    assert paper == reference, "value-guided decoding differs from its no-cache reference"
    return min(t_guided, best_time(guided, repeats - 1)), min(t_guided_paper, best_time(guided_paper, repeats - 1))
