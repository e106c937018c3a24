"""LlamaDecoder reproduces the Transformers Llama forward it stands in for."""

import pytest
import torch
from conftest import greedy_uncached
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from distill.measurement.decoding import LMScorer, decode_tokens, left_pad
from distill.measurement.llama_decoder import LlamaDecoder, supports


def llama(kv_heads: int, bias: bool) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        max_position_embeddings=256,
        attention_bias=bias,
        mlp_bias=bias,
        rope_theta=1000.0,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)  # Transformers initialises biases at zero, which would hide a dropped one
    return model


@pytest.mark.parametrize(
    "prompts", [[[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]], [[5, 6, 7, 8]]], ids=["left-padded", "unpadded"]
)
@pytest.mark.parametrize("kv_heads,bias", [(4, False), (2, True)], ids=["mha", "gqa-bias"])
@torch.no_grad()
def test_llama_decoder_matches_the_model_forward_step_by_step(kv_heads, bias, prompts):
    model = llama(kv_heads, bias)
    ids, mask = left_pad(prompts, pad_id=0)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    decoder = LlamaDecoder(model)
    ours = decoder.prefill(ids, mask, positions)
    theirs = model(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, output_hidden_states=True
    )
    torch.testing.assert_close(ours, theirs.logits[:, -1], rtol=0, atol=1e-5)
    torch.testing.assert_close(decoder.last_hidden, theirs.hidden_states[-1][:, -1], rtol=0, atol=1e-5)
    cache, position = theirs.cache, positions[:, -1] + 1
    tokens = torch.arange(1, len(prompts) + 1)
    for _ in range(80):  # past the first cache allocation (prompt + 64 columns): the cache must grow
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        ours = decoder.step(tokens, mask, position)
        theirs = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=position[:, None],
            cache=cache,
            use_cache=True,
            output_hidden_states=True,
        )
        torch.testing.assert_close(ours, theirs.logits[:, -1], rtol=0, atol=1e-5)
        torch.testing.assert_close(decoder.last_hidden, theirs.hidden_states[-1][:, -1], rtol=0, atol=1e-5)
        cache, position, tokens = theirs.cache, position + 1, ours.argmax(-1)


def test_batched_greedy_through_the_llama_decoder_equals_uncached_greedy():
    model = llama(2, True)
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15], [16]]
    scorer = LMScorer(model)
    assert scorer.fast is not None
    ours = decode_tokens(scorer, prompts, eos_id=3, pad_id=0, max_new_tokens=30)
    assert ours == [greedy_uncached(model, p, eos_id=3, max_new_tokens=30) for p in prompts]


@pytest.mark.parametrize("change", ["fused AdamW step", "loaded state dict"])
def test_the_decoder_follows_the_weights_after_they_change(change):
    """A decoder built after a training step or a loaded checkpoint (in-place changes to the parameters)
    decodes the new weights: validation between training steps must not decode stale ones. The fused AdamW
    step does not bump the parameters' version counters, so fused weights cannot be cached by version."""
    model = llama(2, True)
    ids, mask = left_pad([[5, 6, 7, 8]], pad_id=0)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    before = LlamaDecoder(model).prefill(ids, mask, positions)
    if change == "fused AdamW step":
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
        model(input_ids=ids).logits.sum().backward()
        optimizer.step()
    else:
        state = {k: v + 0.5 for k, v in model.state_dict().items()}
        model.load_state_dict(state)
    with torch.no_grad():
        after = LlamaDecoder(model).prefill(ids, mask, positions)
        expected = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(before, after)


def test_other_models_decode_through_transformers():
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=64, n_embd=32, n_layer=1, n_head=2))
    assert not supports(gpt2) and LMScorer(gpt2).fast is None
    model = llama(4, False)
    model.config.rope_parameters = {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000.0}
    assert not supports(model)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_repeats_prefill_each_prompt_once_and_decode_as_the_repeated_prompts_do(arch):
    """Three copies of each prompt from one prefill: greedy, the same tokens as decoding the prompts repeated; sampled
    with one generator, the same draws in the same row order; and the copies of a prompt differ when sampled."""
    torch.manual_seed(0)
    model = (
        llama(2, True)
        if arch == "llama"
        else GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=64, n_embd=32, n_layer=2, n_head=2)).eval()
    )
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15]]
    repeated = [p for p in prompts for _ in range(3)]
    assert decode_tokens(LMScorer(model), prompts, eos_id=3, pad_id=0, max_new_tokens=20, repeats=3) == decode_tokens(
        LMScorer(model), repeated, eos_id=3, pad_id=0, max_new_tokens=20
    )
    sampled = [
        decode_tokens(
            LMScorer(model),
            *args,
            eos_id=3,
            pad_id=0,
            max_new_tokens=20,
            sample=True,
            generator=torch.Generator().manual_seed(1),
            **kw,
        )
        for args, kw in (((prompts,), {"repeats": 3}), ((repeated,), {}))
    ]
    assert sampled[0] == sampled[1]
    assert len({tuple(s) for s in sampled[0][:3]}) > 1


def sampled_uncached(
    model: torch.nn.Module, prompts: list[list[int]], eos_id: int, max_new_tokens: int, generator: torch.Generator
) -> list[list[int]]:
    """Reference sampling: every row stays in the batch to the end (finished ones draw and discard a token each
    step), each step re-runs each row's whole prefix alone."""
    seqs, outs, done = [list(p) for p in prompts], [[] for _ in prompts], [False] * len(prompts)
    for _ in range(max_new_tokens):
        logits = torch.stack([model(input_ids=torch.tensor([s])).logits[0, -1] for s in seqs])
        tokens = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(-1).tolist()
        for row, token in enumerate(tokens):
            if not done[row]:
                outs[row].append(token)
                seqs[row].append(token)
                done[row] = token == eos_id
        if all(done):
            break
    return outs


class CountingScorer(LMScorer):
    """An ``LMScorer`` that counts how often rows leave its caches."""

    keeps = 0

    def keep(self, rows):
        self.keeps += 1
        super().keep(rows)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("n_prompts", [6, 24])
@torch.no_grad()
def test_finished_rows_leave_the_batch_without_changing_any_row(arch, n_prompts):
    """Rows that reach EOS leave the batch and the caches (once they are an eighth of it: with 6 rows at once, with
    24 in fewer copies than there are finishing steps); each row draws what it would with every row kept to the
    end (the same generator), so sampled decodes do not depend on when other rows finished."""
    torch.manual_seed(0)
    model = (
        llama(2, True)
        if arch == "llama"
        else GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=128, n_embd=32, n_layer=2, n_head=2)).eval()
    )
    prompts = [list(range(5 + i % 30, 5 + i % 30 + 1 + i % 5)) for i in range(n_prompts)]
    eos = 3
    scorer = CountingScorer(model)
    sampled = decode_tokens(
        scorer,
        prompts,
        eos_id=eos,
        pad_id=0,
        max_new_tokens=60,
        sample=True,
        generator=torch.Generator().manual_seed(4),
    )
    assert sampled == sampled_uncached(model, prompts, eos, 60, torch.Generator().manual_seed(4))
    lengths = [len(s) for s in sampled]
    finished = [n for n, s in zip(lengths, sampled) if s[-1] == eos]
    assert len(set(finished)) >= 2 and max(lengths) > min(finished)  # rows left at different steps, others went on
    steps_with_a_finish = len(set(finished) - {max(lengths)})  # the last step ends the decode, no copy
    assert 0 < scorer.keeps <= steps_with_a_finish
    if n_prompts == 24:
        assert scorer.keeps < steps_with_a_finish
