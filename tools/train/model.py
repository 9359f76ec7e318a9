"""Decoder-only transformer for the Trellis default model (owns: architecture and its ONNX wrapper).

Pre-LN GPT: learned absolute positions (indexed by the position_ids input, so left padding works),
LayerNorm, GELU MLP, tied input/output embeddings, and an explicit key/value cache whose layout is
the optimum decoder-with-past one ([batch, heads, past, head_dim]). Everything here exports to
ONNX opset 14 with torch 1.13.

Importable without side effects (tools/train/gedi*.py reuses GPTConfig / GPT).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 4096
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    max_pos: int = 512
    d_ff: int = 0  # 0 means 4 * d_model

    def __post_init__(self):
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        assert self.d_model % self.n_head == 0, "d_model must be divisible by n_head"

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


# Large finite negative instead of -inf: a fully masked row (a left-pad query) must not give NaN.
NEG = -1e9


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x, bias, past_k=None, past_v=None):
        B, S, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)
        q = q.view(B, S, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, S, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(B, S, self.n_head, self.head_dim).transpose(1, 2)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        att = att + bias
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, S, D)
        return self.proj(y), k, v


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.out = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x, bias, past_k=None, past_v=None):
        a, k, v = self.attn(self.ln1(x), bias, past_k, past_v)
        x = x + a
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, k, v


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_pos, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        # GPT-2 style scaled init of residual projections.
        for b in self.blocks:
            nn.init.normal_(b.attn.proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))
            nn.init.normal_(b.out.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wte.weight.numel() + self.wpe.weight.numel()
        return n

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None, return_hidden=False):
        """input_ids [B,S]; attention_mask [B,P+S] (1 = real token); position_ids [B,S];
        past: list of (k, v) each [B,H,P,hd] or None. Returns (logits [B,S,V], presents)."""
        B, S = input_ids.shape
        P = 0 if past is None else past[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(P, P + S, device=input_ids.device).unsqueeze(0).expand(B, S)
        x = self.wte(input_ids) + self.wpe(position_ids)
        # Causal mask over absolute positions: query i (at P+i) sees keys j <= P+i.
        q_idx = torch.arange(S, device=input_ids.device).unsqueeze(1) + P
        k_idx = torch.arange(P + S, device=input_ids.device).unsqueeze(0)
        allowed = (k_idx <= q_idx).unsqueeze(0).unsqueeze(0)  # [1,1,S,P+S]
        if attention_mask is not None:
            allowed = allowed & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype, device=x.device),
                           torch.full((), NEG, dtype=x.dtype, device=x.device))
        presents = []
        for i, blk in enumerate(self.blocks):
            pk, pv = (None, None) if past is None else past[i]
            x, k, v = blk(x, bias, pk, pv)
            presents.append((k, v))
        h = self.ln_f(x)
        logits = h @ self.wte.weight.t()
        if return_hidden:
            return logits, presents, h
        return logits, presents


class OnnxWrapper(nn.Module):
    """Flat inputs/outputs in the optimum decoder-with-past order for torch.onnx.export."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        n = self.model.cfg.n_layer
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(n)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out.extend([k, v])
        return tuple(out)
