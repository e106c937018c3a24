"""Decode-time forward of a Transformers Llama (the scratch students, SmolLM2) over the model's own weights.

At batch 1 a 2-layer student spends most of each token in framework work, not arithmetic: Transformers'
forward builds a mask, a rotary table and a growing cache on every call. This forward computes the same
numbers (``tests/test_decoding.py`` compares logits, hidden states and greedy outputs with the model's own
forward) with a preallocated cache and no per-call set-up. It reads the parameters where they live, so a
model that keeps training decodes with its current weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM


def supports(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a Llama this forward reproduces (otherwise decode through Transformers)."""
    if not isinstance(model, LlamaForCausalLM):
        return False
    config = model.config
    rope_type = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    dropout_off = not model.training or config.attention_dropout == 0
    return rope_type == "default" and config.hidden_act == "silu" and dropout_off


def _rms_norm(x: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    # Transformers' LlamaRMSNorm: normalise in float32, scale in the model's dtype
    return norm.weight * F.rms_norm(x.float(), (x.shape[-1],), eps=norm.variance_epsilon).to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class LlamaDecoder:
    """``prefill`` then one ``step`` per token, each returning the last position's logits [batch, vocab];
    ``last_hidden`` holds the final (normed) hidden state of the last position, as ``hidden_states[-1]``."""

    def __init__(self, model: LlamaForCausalLM) -> None:
        config = model.config
        self.model = model
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.scale = self.head_dim ** -0.5
        rotary = model.model.rotary_emb
        self.inv_freq, self.rope_scale = rotary.inv_freq.float(), rotary.attention_scaling
        self.cos = self.sin = torch.empty(0)
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.length = 0          # cache columns in use (left padding included)
        self.max_position = 0
        self.last_hidden: torch.Tensor | None = None

    def _rope(self, position_ids: torch.Tensor, max_position: int) -> tuple[torch.Tensor, torch.Tensor]:
        if max_position >= self.cos.shape[0]:
            # the table grows by doubling; each entry is computed as Transformers computes it per call
            freqs = torch.arange(max(2 * max_position, 64), dtype=torch.float)[:, None] * self.inv_freq
            emb = torch.cat((freqs, freqs), dim=-1)
            dtype = self.model.dtype
            self.cos, self.sin = ((emb.cos() * self.rope_scale).to(dtype), (emb.sin() * self.rope_scale).to(dtype))
        # [batch, 1, seq, head_dim]: broadcast over heads
        return self.cos[position_ids][:, None], self.sin[position_ids][:, None]

    def _reserve(self, columns: int) -> None:
        capacity = self.keys[0].shape[2]
        if columns <= capacity:
            return
        grow = max(columns, 2 * capacity) - capacity
        pad = lambda t: torch.cat([t, t.new_zeros(*t.shape[:2], grow, t.shape[3])], dim=2)  # noqa: E731
        self.keys = [pad(k) for k in self.keys]
        self.values = [pad(v) for v in self.values]

    def _forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Runs ``input_ids`` [batch, seq] written at cache columns ``length..length+seq``; ``mask`` [batch, 1,
        seq, columns] says which cached columns each new position may attend to."""
        model = self.model.model
        batch, seq = input_ids.shape
        cos, sin = self._rope(position_ids, self.max_position)
        start, end = self.length, self.length + seq
        x = F.embedding(input_ids, model.embed_tokens.weight)
        for layer, keys, values in zip(model.layers, self.keys, self.values):
            attn, mlp = layer.self_attn, layer.mlp
            h = _rms_norm(x, layer.input_layernorm)
            q = F.linear(h, attn.q_proj.weight, attn.q_proj.bias).view(batch, seq, -1, self.head_dim).transpose(1, 2)
            k = F.linear(h, attn.k_proj.weight, attn.k_proj.bias).view(batch, seq, -1, self.head_dim).transpose(1, 2)
            keys[:, :, start:end] = _rotate(k, cos, sin)
            values[:, :, start:end] = (F.linear(h, attn.v_proj.weight, attn.v_proj.bias)
                                       .view(batch, seq, -1, self.head_dim).transpose(1, 2))
            a = F.scaled_dot_product_attention(_rotate(q, cos, sin), keys[:, :, :end], values[:, :, :end],
                                               attn_mask=mask, scale=self.scale,
                                               enable_gqa=self.kv_heads != self.heads)
            x = x + F.linear(a.transpose(1, 2).reshape(batch, seq, -1), attn.o_proj.weight, attn.o_proj.bias)
            h = _rms_norm(x, layer.post_attention_layernorm)
            gate = F.linear(h, mlp.gate_proj.weight, mlp.gate_proj.bias)
            up = F.linear(h, mlp.up_proj.weight, mlp.up_proj.bias)
            x = x + F.linear(F.silu(gate) * up, mlp.down_proj.weight, mlp.down_proj.bias)
        self.length = end
        self.last_hidden = _rms_norm(x[:, -1], model.norm)
        head = self.model.lm_head
        return F.linear(self.last_hidden, head.weight, head.bias)

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor) -> torch.Tensor:
        batch, width = input_ids.shape
        shape = (batch, self.kv_heads, width + 64, self.head_dim)
        dtype = self.model.dtype
        n_layers = len(self.model.model.layers)
        self.keys = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.length, self.max_position = 0, int(position_ids.max())
        causal = torch.ones(width, width, dtype=torch.bool).tril()
        # a padding position may attend to itself only: no row is fully masked (which would give NaN)
        mask = (causal & attention_mask.bool()[:, None, :]) | torch.eye(width, dtype=torch.bool)
        return self._forward(input_ids, position_ids, mask[:, None])

    def step(self, tokens: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        """``tokens`` [batch] at ``position_ids`` [batch]; ``attention_mask`` [batch, columns] covers the cache
        and the new token; positions advance by one per step."""
        self._reserve(self.length + 1)
        self.max_position += 1
        mask = attention_mask.bool()[:, None, None, :]
        return self._forward(tokens[:, None], position_ids[:, None], mask)
