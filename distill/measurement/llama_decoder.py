"""Decode-time forward of a Transformers Llama (the scratch students, SmolLM2) over the model's weights.

At batch 1 a 2-layer student spends most of each token in framework work, not arithmetic: Transformers'
forward builds a mask, a rotary table and a growing cache on every call, and each projection is its own
small matmul. This forward computes the same numbers (``tests/test_decoding.py`` compares logits, hidden
states and greedy outputs with the model's own forward) in fewer operations: a preallocated cache, one
matmul for the query, key and value projections with their rotated halves (rotary embedding then costs two
elementwise operations), one for the MLP's gate and up projections, residual additions fused into the
output matmuls. The fused weights are copied when the decoder is built: build one per pass over the
problems (it decodes batch after batch), and a new one after the weights change.
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


def _rotate_half_rows(weight: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Rows (output features) such that ``x @ result.T == rotate_half(x @ weight.T)`` per head; biases alike."""
    heads = weight.reshape(-1, head_dim, *weight.shape[1:])
    half = head_dim // 2
    return torch.cat((-heads[:, half:], heads[:, :half]), dim=1).reshape(weight.shape)


class LlamaDecoder:
    """``prefill`` then one ``step`` per token, each returning the last position's logits [batch, vocab];
    ``last_hidden`` holds the final (normed) hidden state of the last position, as ``hidden_states[-1]``."""

    @torch.no_grad()
    def __init__(self, model: LlamaForCausalLM) -> None:
        config = model.config
        self.dtype, self.device = model.dtype, model.device
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.scale = self.head_dim**-0.5
        self.eps = config.rms_norm_eps
        self.layers = [self._fused(layer) for layer in model.model.layers]
        self.embed, self.norm = model.model.embed_tokens.weight, model.model.norm.weight
        self.head, self.head_bias = model.lm_head.weight.t(), model.lm_head.bias
        rotary = model.model.rotary_emb
        self.inv_freq, self.rope_scale = rotary.inv_freq.float(), rotary.attention_scaling
        self.rope_table = torch.empty(0)  # [position, 2 * head_dim]: cos then sin
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.length = 0  # cache columns in use (left padding included)
        self.max_position = 0
        self.padded = False  # whether any cached column is padding (else attention needs no mask)
        self.last_hidden: torch.Tensor | None = None

    def _fused(self, layer: torch.nn.Module) -> tuple[torch.Tensor | None, ...]:
        """One decoder layer's weights, fused: one matmul gives [q | k | rotate_half(q) | rotate_half(k) | v],
        another [gate | up]."""
        attn, mlp = layer.self_attn, layer.mlp
        q, k, v = attn.q_proj, attn.k_proj, attn.v_proj

        def qkv_of(part: str) -> torch.Tensor:
            a, b, c = getattr(q, part), getattr(k, part), getattr(v, part)
            return torch.cat([a, b, _rotate_half_rows(a, self.head_dim), _rotate_half_rows(b, self.head_dim), c])

        gate_up_bias = None if mlp.gate_proj.bias is None else torch.cat([mlp.gate_proj.bias, mlp.up_proj.bias])
        return (
            layer.input_layernorm.weight,
            qkv_of("weight").t(),
            None if q.bias is None else qkv_of("bias"),
            attn.o_proj.weight.t(),
            attn.o_proj.bias,
            layer.post_attention_layernorm.weight,
            torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).t(),
            gate_up_bias,
            mlp.down_proj.weight.t(),
            mlp.down_proj.bias,
        )

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), weight, self.eps)
        # Transformers' LlamaRMSNorm: normalise in float32, scale in the model's dtype
        return weight * F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(x.dtype)

    def _rope(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.max_position >= self.rope_table.shape[0]:
            # the table grows by doubling; each entry is computed as Transformers computes it per call
            positions = torch.arange(max(2 * self.max_position, 64), dtype=torch.float, device=self.device)
            freqs = positions[:, None] * self.inv_freq
            emb = torch.cat((freqs, freqs), dim=-1)
            self.rope_table = (torch.cat((emb.cos(), emb.sin()), dim=-1) * self.rope_scale).to(self.dtype)
        # one lookup per call; [batch * seq, 1, head_dim] views broadcast over heads
        rows = self.rope_table[position_ids.reshape(-1)][:, None]
        return rows[..., : self.head_dim], rows[..., self.head_dim :]

    def _reserve(self, columns: int) -> None:
        capacity = self.keys[0].shape[2]
        if columns <= capacity:
            return
        grow = max(columns, 2 * capacity) - capacity
        pad = lambda t: torch.cat([t, t.new_zeros(*t.shape[:2], grow, t.shape[3])], dim=2)  # noqa: E731
        self.keys = [pad(k) for k in self.keys]
        self.values = [pad(v) for v in self.values]

    def _forward(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, mask: torch.Tensor | None, causal: bool = False
    ) -> torch.Tensor:
        """Runs ``input_ids`` [batch, seq] written at cache columns ``length..length+seq``; ``mask`` [batch, 1,
        seq, columns] says which cached columns each new position may attend to (None: all of them, or the
        causal ones when ``causal``: an unpadded prefill)."""
        batch, seq = input_ids.shape
        heads, kv_heads, head_dim = self.heads, self.kv_heads, self.head_dim
        n_qk = (heads + kv_heads) * head_dim
        cos, sin = self._rope(position_ids)
        start, end = self.length, self.length + seq
        x = F.embedding(input_ids.reshape(-1), self.embed)  # [batch * seq, hidden]
        for (norm1, qkv, qkv_bias, out, out_bias, norm2, gate_up, gate_up_bias, down, down_bias), keys, values in zip(
            self.layers, self.keys, self.values
        ):
            h = self._rms_norm(x, norm1)
            y = h @ qkv if qkv_bias is None else torch.addmm(qkv_bias, h, qkv)
            qk = y[:, :n_qk].view(-1, heads + kv_heads, head_dim)
            qk = torch.addcmul(qk * cos, y[:, n_qk : 2 * n_qk].view_as(qk), sin)  # rotary embedding
            q = qk[:, :heads].view(batch, seq, heads, head_dim).transpose(1, 2)
            keys[:, :, start:end] = qk[:, heads:].view(batch, seq, kv_heads, head_dim).transpose(1, 2)
            values[:, :, start:end] = y[:, 2 * n_qk :].view(batch, seq, kv_heads, head_dim).transpose(1, 2)
            a = F.scaled_dot_product_attention(
                q,
                keys[:, :, :end],
                values[:, :, :end],
                attn_mask=mask,
                is_causal=causal,
                scale=self.scale,
                enable_gqa=kv_heads != heads,
            )
            a = a.transpose(1, 2).reshape(batch * seq, heads * head_dim)
            x = torch.addmm(x, a, out) if out_bias is None else x + torch.addmm(out_bias, a, out)
            h = self._rms_norm(x, norm2)
            g = h @ gate_up if gate_up_bias is None else torch.addmm(gate_up_bias, h, gate_up)
            half = g.shape[-1] // 2
            g = F.silu(g[:, :half]) * g[:, half:]
            x = torch.addmm(x, g, down) if down_bias is None else x + torch.addmm(down_bias, g, down)
        self.length = end
        self.last_hidden = self._rms_norm(x.view(batch, seq, -1)[:, -1], self.norm)
        return (
            self.last_hidden @ self.head
            if self.head_bias is None
            else torch.addmm(self.head_bias, self.last_hidden, self.head)
        )

    def prefill(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        batch, width = input_ids.shape
        shape = (batch, self.kv_heads, width + 64, self.head_dim)
        self.keys = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self.values = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self.length, self.max_position = 0, int(position_ids.max())
        self.padded = not bool(attention_mask.all())
        if not self.padded:
            return self._forward(input_ids, position_ids, None, causal=True)
        causal = torch.ones(width, width, dtype=torch.bool, device=self.device).tril()
        # a padding position may attend to itself only: no row is fully masked (which would give NaN)
        mask = (causal & attention_mask.bool()[:, None, :]) | torch.eye(width, dtype=torch.bool, device=self.device)
        return self._forward(input_ids, position_ids, mask[:, None])

    def repeat(self, repeats: int) -> None:
        """Each cached row ``repeats`` times, its copies next to each other."""
        self.keys = [k.repeat_interleave(repeats, dim=0) for k in self.keys]
        self.values = [v.repeat_interleave(repeats, dim=0) for v in self.values]
        self.last_hidden = self.last_hidden.repeat_interleave(repeats, dim=0)

    def keep(self, rows: torch.Tensor) -> None:
        """Only ``rows`` of the caches stay (finished rows leave the batch)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]
        self.last_hidden = self.last_hidden[rows]

    def step(self, tokens: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        """``tokens`` [batch] at ``position_ids`` [batch]; ``attention_mask`` [batch, columns] is the prefill's
        mask followed by ones (every new token is attended to); positions advance by one per step."""
        self._reserve(self.length + 1)
        self.max_position += 1
        mask = attention_mask.bool()[:, None, None, :] if self.padded else None
        return self._forward(tokens[:, None], position_ids[:, None], mask)
