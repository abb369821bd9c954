"""The torch side of ``transformer``: the network, its training loop and batched decoding.

Everything that needs torch at import time lives here, so ``generators.transformer`` imports
without it. Contents: :class:`TransformerLM`, :func:`train_lm`, :func:`draw`, :func:`generate`.

The GPT-2 architecture (Radford et al. 2019, "Language Models are Unsupervised Multitask
Learners"), in the pre-LayerNorm form popularised by Karpathy's nanoGPT, written from scratch:

    x = wte[idx] + wpe[pos]                              token + learned position embeddings
    for each block:  x = x + attn(ln_1(x))               causal multi-head self-attention
                     x = x + mlp(ln_2(x))                Linear(C, 4C) -> GELU -> Linear(4C, C)
    logits = ln_f(x) @ wte.T                             weight tying (Press & Wolf 2017)

Shapes: B batch, T time, C = n_embd, H = n_head, D = C / H, V = vocab size.

The first ``n_masked`` ids (padding and begin-of-document) are inputs only: their logits are set
to ``-inf``, so every next-token distribution is over real outcomes and sums to one without them.

Randomness is explicit: ``reset_parameters(gen)`` initialises every weight from a
``torch.Generator`` and dropout draws its masks from the generator passed to ``forward``.
(Constructing the module runs ``nn.Linear``'s own init on the global torch RNG; callers wrap the
construction in ``torch.random.fork_rng`` so that global state is left as it was.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# One (key, value) pair per layer, each (B, H, T_past, D); grown in place by ``forward``.
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


def _dropout(x: torch.Tensor, p: float, gen: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout whose mask comes from ``gen`` (``F.dropout`` only uses the global RNG)."""
    if p == 0.0 or gen is None:
        return x
    keep = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        # (B, T, C) -> (B, H, T, D)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if past is not None:  # decoding one new token after the cached ones: it sees them all
            assert T == 1, "a KV cache is extended one token at a time"
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and T > 1)  # (B,H,T,D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.dropout = dropout
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.fc_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: torch.Tensor, past=None, gen: torch.Generator | None = None):
        a, kv = self.attn(self.ln_1(x), past)
        x = x + _dropout(a, self.dropout, gen)
        m = self.fc_proj(F.gelu(self.fc(self.ln_2(x))))
        return x + _dropout(m, self.dropout, gen), kv


class TransformerLM(nn.Module):
    """Decoder-only LM; ``forward(idx)`` maps (B, T) ids to (B, T, V) next-token logits."""

    def __init__(
        self,
        *,
        vocab_size: int,
        block_size: int,
        n_layer: int,
        n_head: int,
        n_embd: int,
        dropout: float = 0.0,
        n_masked: int = 0,
    ):
        super().__init__()
        self.block_size, self.n_masked, self.dropout = block_size, n_masked, dropout
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)

    @torch.no_grad()
    def reset_parameters(self, gen: torch.Generator) -> None:
        """GPT-2 init: N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 n_layer)."""
        resid_std = 0.02 / math.sqrt(2 * len(self.blocks))
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name or name.startswith("ln_"):
                nn.init.ones_(p)
            else:
                std = resid_std if name.endswith("proj.weight") else 0.02  # attn.proj, fc_proj
                nn.init.normal_(p, mean=0.0, std=std, generator=gen)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        *,
        cache: KVCache | None = None,
        gen: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, V) for ids ``idx`` (B, T).

        ``cache``: a list, empty at the first call, that keeps every layer's keys and values so
        the next call feeds only the newest token (B, 1) at position ``T_past``. ``gen``: the
        dropout generator (training only; ``None`` disables dropout).
        """
        T = idx.shape[1]
        start = cache[0][0].shape[2] if cache else 0
        if start + T > self.block_size:
            raise ValueError(
                f"expected at most block_size={self.block_size} positions, got {start + T}"
            )
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = _dropout(self.wte(idx) + self.wpe(pos), self.dropout, gen)  # (B, T, C)
        has_past = bool(cache)
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cache[i] if has_past else None, gen)
            if cache is not None:
                if has_past:
                    cache[i] = kv
                else:
                    cache.append(kv)
        logits = self.ln_f(x) @ self.wte.weight.T  # (B, T, V), tied with the input embedding
        if self.n_masked:
            logits[..., : self.n_masked] = float("-inf")
        return logits


def draw(
    logits: torch.Tensor,
    gen: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
) -> torch.Tensor:
    """One id per row of ``logits`` (B, V) from ``softmax(logits / temperature)``, restricted to
    the ``top_k`` most likely ids and then to the smallest most-likely set whose probability
    reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020), renormalised. Returns (B,)."""
    logits = logits.float()
    # subtracting the max first keeps logits / T finite for tiny T (greedy in the limit)
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop an id when the more likely ones already reach top_p (the first always stays)
        drop = (probs.cumsum(dim=-1) - probs) >= top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)[:, 0]


def generate(
    model: TransformerLM,
    m: int,
    gen: torch.Generator,
    *,
    bos: int,
    eos: int,
    max_new_tokens: int,
    watermark: Any = None,
    prefix: torch.Tensor | None = None,
    **knobs,
) -> list[list[int]]:
    """``m`` id sequences sampled from ``[bos]`` until ``eos`` (dropped) or ``max_new_tokens``.

    ``prefix`` (m, p): given ids after ``bos`` (prompts of one length, p < ``block_size``);
    sampling continues them and the returned sequences hold the new ids only.

    Batched, with a KV cache: each step feeds only the newest token (B, 1). Context is capped at
    ``block_size`` exactly as in the scoring windows: when the window is full its start moves on
    by ``block_size // 2`` and the cache is rebuilt from ``s[start:i]``, so token ``s_i`` is drawn
    from ``p(. | s[a(i):i])``, the conditional that ``log_prob`` scores. Finished rows leave the
    batch. ``knobs``: ``temperature``, ``top_k``, ``top_p`` of :func:`draw`. ``watermark``: a
    :class:`~modelcollapse.guard.watermark.WatermarkConfig` whose green-list bias is added to the
    raw logits before those knobs, with the ids so far (``<bos>`` included) as context.
    """
    dev = model.wte.weight.device
    block, stride = model.block_size, max(1, model.block_size // 2)
    out: list[list[int]] = [[] for _ in range(m)]
    alive = torch.arange(m, device=dev)  # (b,): the document of each batch row
    seqs = torch.full((m, 1), bos, dtype=torch.long, device=dev)  # (b, i) = s[0:i]
    if prefix is not None:
        seqs = torch.cat([seqs, prefix.to(device=dev, dtype=torch.long)], dim=1)  # (b, 1 + p)
    given = seqs.shape[1]
    cache: KVCache = []
    logits, start = model(seqs, cache=cache)[:, -1], 0  # (b, V): predicts s[1]
    for step in range(max_new_tokens):
        if watermark is not None:
            from modelcollapse.guard.watermark import apply_watermark

            logits = apply_watermark(logits, seqs.cpu().numpy(), watermark)
        nxt = draw(logits, gen, **knobs)  # (b,)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        last = step + 1 == max_new_tokens
        done = torch.ones_like(nxt, dtype=torch.bool) if last else nxt == eos
        if bool(done.any()):
            for row in torch.nonzero(done)[:, 0].tolist():
                toks = seqs[row, given:].tolist()
                out[int(alive[row])] = toks[:-1] if toks[-1] == eos else toks
            if bool(done.all()):
                break
            keep = ~done
            alive, seqs, nxt = alive[keep], seqs[keep], nxt[keep]
            cache = [(k[keep], v[keep]) for k, v in cache]
        i = seqs.shape[1]  # the next target is s[i]
        if i - start > block:  # the window is full: slide it by the stride and re-encode
            start += stride
            cache = []
            logits = model(seqs[:, start:i], cache=cache)[:, -1]
        else:
            logits = model(nxt[:, None], cache=cache)[:, -1]
    return out


def epoch_batches(length: torch.Tensor, batch_size: int, gen: torch.Generator) -> list:
    """One epoch of mini-batches (index tensors) over windows of the given lengths (W,).

    Every window appears once. Windows are shuffled, then sorted by length within pools of
    ``16 * batch_size`` so that a batch holds windows of similar length (little padding: about
    twice the tokens per second on verses), and the batch order is shuffled again.
    """
    perm = torch.randperm(len(length), generator=gen, device=length.device)
    pool = 16 * batch_size
    batches = []
    for lo in range(0, len(perm), pool):
        idx = perm[lo : lo + pool]
        batches.extend(idx[torch.argsort(length[idx], stable=True)].split(batch_size))
    order = torch.randperm(len(batches), generator=gen, device=length.device).tolist()
    return [batches[i] for i in order]


def train_lm(
    model: TransformerLM,
    tokens: np.ndarray,
    first: np.ndarray,
    length: np.ndarray,
    gen: torch.Generator,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup_steps: int,
) -> np.ndarray:
    """Train on padded windows; returns the loss (mean nats per counted target) of every step.

    Window w (a row of ``tokens``, (W, block_size + 1)) predicts ``tokens[w, p + 1]`` from
    ``tokens[w, :p + 1]`` and counts it when ``first[w] <= p < length[w]``. AdamW with weight
    decay on matrices only, betas (0.9, 0.95), linear warm-up over ``warmup_steps``, cosine decay
    from ``lr`` to ``lr / 10``, gradient norm clipped at 1. ``gen`` orders the batches and, when
    the model has dropout, draws its masks.
    """
    dev = model.wte.weight.device
    tokens_t = torch.from_numpy(tokens).to(dev)
    length_t = torch.from_numpy(length).to(dev)
    pos = torch.arange(tokens.shape[1] - 1, device=dev)
    counted = (pos >= torch.from_numpy(first).to(dev)[:, None]) & (pos < length_t[:, None])
    params = list(model.parameters())
    opt = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
    )
    drop_gen = gen if model.dropout > 0 else None
    model.train()
    losses = np.full(steps, np.nan)
    batches: list = []
    for step in range(steps):
        progress = max(0.0, (step - warmup_steps) / max(1, steps - warmup_steps))
        scale = min(1.0, (step + 1) / warmup_steps) if step < warmup_steps else 1.0
        scale *= 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        if not batches:  # a new epoch
            batches = epoch_batches(length_t, batch_size, gen)
        idx = batches.pop()
        t = int(length_t[idx].max())  # crop the batch to its longest window
        x, y, m = tokens_t[idx, :t], tokens_t[idx, 1 : t + 1], counted[idx, :t]  # (b, t) each
        logits = model(x, gen=drop_gen)  # (b, t, V)
        # uncounted targets (padding, context scored by an earlier window) are ignored: their
        # logits can be -inf, so they must not enter the sum even multiplied by zero
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            torch.where(m, y, -100).reshape(-1),
            ignore_index=-100,
            reduction="sum",
        ) / m.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses[step] = loss.item()
        if not math.isfinite(losses[step]):
            break  # the caller reports it; further steps would only spread the NaN
    model.eval()
    return losses
