"""Token-level inference on a causal LM: exact scoring, ancestral sampling and beam search.

Sequences are lists of token ids. A document is scored and generated as ``prefix + tokens``,
where the prefix (BOS and the prompt) is given, never predicted.

- :func:`token_log_probs` gives ``log p(x_t | x_<t)`` for every position of a padded batch; it is
  the one definition of the likelihood, shared by scoring and by the training loss.
- :func:`score` sums it over the non-prefix tokens of each sequence: the exact log-likelihood.
- :func:`sample` is ancestral sampling with a KV cache, written out here rather than through
  ``generate(do_sample=True)`` because ``generate`` draws from torch's global RNG; every draw
  here is ``torch.multinomial(..., generator=...)``.
- :func:`filter_logits` applies temperature, top-k (Fan et al. 2018) and top-p / nucleus
  sampling (Holtzman et al. 2020), in that order, as transformers does.
- :func:`beam_search` is deterministic, so it uses ``generate(num_beams=..., do_sample=False)``.
- ``watermark`` (a :class:`~modelcollapse.guard.watermark.WatermarkConfig`) adds the green-list
  bias of Kirchenbauer et al. (2023) to the raw logits, before temperature and truncation; the
  context is the last ``context_width`` ids of ``prefix + generated tokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.generators.torch_utils import require_torch
from modelcollapse.guard.watermark import apply_watermark

if TYPE_CHECKING:  # pragma: no cover
    import torch


def pad_batch(seqs: list[list[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (b, L) and the attention mask (b, L) (1 = real token)."""
    torch = require_torch()
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def token_log_probs(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log p(ids[:, t+1] | ids[:, :t+1])`` for t = 0..L-2, float32 (b, L-1).

    Right padding is exact for a causal model: a real token never attends to a later position.
    Positions whose target is padding hold garbage; callers mask them.
    """
    torch = require_torch()
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()  # (b, L-1, V)
    target = ids[:, 1:].unsqueeze(-1)  # (b, L-1, 1)
    # log-softmax at the target only: avoids a second (b, L-1, V) tensor
    return logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def score(
    model: Any,
    seqs: list[list[int]],
    n_prefix: int,
    *,
    pad_id: int,
    batch_size: int,
    device: Any,
) -> np.ndarray:
    """``sum_{t >= n_prefix} log p(seq[t] | seq[:t])`` per sequence, float64 (n,).

    Sequences are scored in batches of similar length (sorted, a fixed order, so the result does
    not depend on anything but the inputs); sums are taken in float64.
    """
    torch = require_torch()
    out = np.zeros(len(seqs), dtype=np.float64)
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), i))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = pad_batch([seqs[i] for i in idx], pad_id, device)
            lp = token_log_probs(model, ids, mask).double()  # (b, L-1)
            keep = mask[:, 1:].clone()
            keep[:, : n_prefix - 1] = 0  # targets 1..n_prefix-1 are prefix tokens
            out[idx] = torch.where(keep.bool(), lp, 0.0).sum(dim=1).cpu().numpy()
    return out


def filter_logits(
    logits: torch.Tensor, *, temperature: float, top_k: int, top_p: float
) -> torch.Tensor:
    """Logits (m, V) of the sampling distribution; excluded tokens get ``-inf``.

    ``softmax(logits / T)`` is exactly ``p ** (1/T)`` renormalised. ``top_k > 0`` keeps the
    tokens whose logit is at least the k-th largest (ties at the boundary are all kept).
    ``top_p < 1`` keeps the smallest set of most probable tokens whose total probability is at
    least ``top_p`` (always at least the most probable token).
    """
    torch = require_torch()
    logits = logits.float() / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (m, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the strictly more probable tokens
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample(
    model: Any,
    prefix: list[int],
    n: int,
    *,
    eos_id: int,
    max_new_tokens: int,
    batch_size: int,
    generator: torch.Generator,
    temperature: float,
    top_k: int,
    top_p: float,
    device: Any,
    watermark: Any = None,
) -> list[list[int]]:
    """``n`` continuations of ``prefix`` (token ids, without the prefix and without EOS).

    Each document is drawn token by token until EOS or ``max_new_tokens`` tokens. All rows share
    the same prefix, so batches need no padding; finished rows are dropped from the batch and
    from the KV cache (``DynamicCache.batch_select_indices``).
    """
    torch = require_torch()
    from transformers import DynamicCache

    out: list[list[int]] = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            docs: list[list[int]] = [[] for _ in range(m)]
            active = torch.arange(m)  # rows of `docs` still generating, in batch order
            ids = torch.tensor([prefix], dtype=torch.long, device=device).expand(m, -1)
            cache = DynamicCache()
            logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1]
            if watermark is not None:  # the last context_width ids of each row, -1 = none yet
                width = watermark.context_width
                recent = torch.tensor([([-1] * width + prefix)[-width:]]).expand(m, -1)
            for step in range(max_new_tokens):
                if watermark is not None:
                    logits = apply_watermark(logits, recent, watermark)
                probs = torch.softmax(
                    filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p),
                    dim=-1,
                )
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (a,)
                go = nxt != eos_id
                for row, tok in zip(active[go.cpu()].tolist(), nxt[go].tolist(), strict=True):
                    docs[row].append(tok)
                if not bool(go.any()) or step == max_new_tokens - 1:
                    break
                if not bool(go.all()):
                    keep = go.nonzero().squeeze(1)
                    cache.batch_select_indices(keep)
                    active, nxt = active[keep.cpu()], nxt[keep]
                    if watermark is not None:
                        recent = recent[keep.cpu()]
                if watermark is not None:
                    recent = torch.cat([recent[:, 1:], nxt.cpu().unsqueeze(1)], dim=1)
                logits = model(
                    input_ids=nxt.unsqueeze(1), past_key_values=cache, use_cache=True
                ).logits[:, -1]
            out.extend(docs)
    return out


def beam_search(
    model: Any,
    prefix: list[int],
    n: int,
    *,
    eos_id: int,
    pad_id: int,
    num_beams: int,
    max_new_tokens: int,
    device: Any,
    watermark: Any = None,
) -> list[list[int]]:
    """The ``num_beams`` best continuations of ``prefix`` by beam search, best first, repeated
    cyclically to ``n`` documents (token ids, without the prefix, cut at the first EOS).
    ``watermark`` goes in as a ``KirchenbauerLogitsProcessor``."""
    torch = require_torch()
    from transformers import GenerationConfig, LogitsProcessorList

    from modelcollapse.guard.watermark import KirchenbauerLogitsProcessor

    config = GenerationConfig(
        num_beams=num_beams,
        num_return_sequences=num_beams,
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=prefix[0],
    )
    ids = torch.tensor([prefix], dtype=torch.long, device=device)
    with torch.no_grad():
        seqs = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            generation_config=config,
            logits_processor=LogitsProcessorList(
                [] if watermark is None else [KirchenbauerLogitsProcessor(watermark)]
            ),
        )
    beams = []
    for row in seqs[:, len(prefix) :].tolist():
        beams.append(row[: row.index(eos_id)] if eos_id in row else row)
    return [list(beams[i % len(beams)]) for i in range(n)]
