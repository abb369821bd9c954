"""Fine-tuning a causal LM on documents: AdamW on the mean token negative log-likelihood.

The loss of a batch is ``-sum log p(x_t | x_<t) / (number of predicted tokens)`` over the
non-prefix tokens (document tokens and EOS) of its sequences, with
:func:`modelcollapse.generators.hf_inference.token_log_probs`, the same likelihood ``log_prob``
reports. AdamW (Loshchilov & Hutter 2019), constant learning rate, gradient norm clipping.
Only parameters with ``requires_grad`` are trained (all of them for full fine-tuning, the adapter
for LoRA).

Randomness: batch order comes from ``torch.randperm(generator=...)``, one permutation per epoch.
Dropout layers (``lora_dropout``, a model's own dropout) draw from torch's default RNG, which no
generator argument can reach; training therefore runs inside ``torch.random.fork_rng`` with that
RNG seeded from the fit's own stream, so dropout masks are reproducible and the caller's global
RNG state is restored afterwards.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from modelcollapse.generators.hf_inference import pad_batch, token_log_probs
from modelcollapse.generators.torch_utils import require_torch

if TYPE_CHECKING:  # pragma: no cover
    import torch


def n_steps(n_docs: int, batch_size: int, epochs: int, steps: int | None) -> int:
    """Optimizer steps: ``steps`` when given, else ``epochs`` passes over the documents."""
    return int(steps) if steps is not None else epochs * math.ceil(n_docs / batch_size)


def _fork(torch: Any, device: torch.device) -> Any:
    if device.type == "cuda":
        return torch.random.fork_rng(devices=[device], device_type="cuda")
    return torch.random.fork_rng(devices=[])


def finetune(
    model: Any,
    seqs: list[list[int]],
    n_prefix: int,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    max_grad_norm: float,
    generator: torch.Generator,
    dropout_seed: int,
    pad_id: int,
    device: torch.device,
) -> int:
    """Train ``model`` in place for ``steps`` AdamW steps; returns the predicted tokens seen.

    ``generator`` (CPU) orders the batches; ``dropout_seed`` seeds the forked default RNG.
    The model is left in eval mode.
    """
    torch = require_torch()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    order: list[int] = []
    seen = 0
    with _fork(torch, device):
        torch.random.default_generator.manual_seed(dropout_seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(dropout_seed)
        model.train()
        try:
            for _ in range(steps):
                if not order:  # a new epoch; its last batch may be smaller
                    order = torch.randperm(len(seqs), generator=generator).tolist()
                idx, order = order[:batch_size], order[batch_size:]
                ids, mask = pad_batch([seqs[i] for i in idx], pad_id, device)
                lp = token_log_probs(model, ids, mask)  # (b, L-1)
                keep = mask[:, 1:].bool()
                keep[:, : n_prefix - 1] = False  # prefix tokens are given, not predicted
                count = int(keep.sum())
                if count == 0:  # every sequence truncated to its prefix
                    continue
                loss = -torch.where(keep, lp, 0.0).sum() / count
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                opt.step()
                seen += count
        finally:
            model.eval()
    return seen
