"""Binoculars: perplexity relative to cross-perplexity, with two LMs sharing a tokenizer.

Hans et al. 2024 ("Spotting LLMs With Binoculars: Zero-Shot Detection of Machine-Generated
Text", ICML). Perplexity alone misfires on human text that follows an unusual prompt; Binoculars
divides it by how surprising one model finds the *other* model's next-token predictions, which
measures how surprising text at that point is expected to be for an LM. For a text with tokens
``x_1..x_T`` (each ``x_t`` predicted from ``x_<t``), an observer ``M_o`` and a performer ``M_p``:

    log PPL_p(x)      = -(1/T) sum_t log p_p(x_t | x_<t)
    log X-PPL_{o,p}(x) = -(1/T) sum_t sum_v p_o(v | x_<t) log p_p(v | x_<t)
    B(x)              = log PPL_p(x) / log X-PPL_{o,p}(x)

X-PPL is the cross-entropy of the performer's next-token distribution under the observer's,
averaged over positions. Both averages are natural-log, so the ratio is unit-free. Which model
plays which part follows the authors' released code (``binoculars/detector.py``: perplexity from
the performer's logits, the cross term with the observer's probabilities as the target
distribution); their observer/performer pair is Falcon-7B / Falcon-7B-instruct.

Low ``B`` means machine-generated (the text is more predictable than an LM expects text in that
context to be). :func:`binoculars_ratio` returns ``B`` itself; the detector API
(:class:`~modelcollapse.guard.zero_shot.ZeroShotDetector`) exposes ``-B`` so that, as for every
detector in :mod:`modelcollapse.guard`, higher means "more likely AI".

The two models must share a tokenizer: the same token ids must mean the same strings, and both
output distributions must range over the same vocabulary. :func:`check_shared_vocabulary`
refuses anything else with an :class:`~modelcollapse.errors.InvalidParameterError`. The same
model may be both observer and performer; then ``X-PPL`` is the model's mean entropy and ``B``
is perplexity normalised by entropy (a one-model variant, weaker than a true pair).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.generators.torch_utils import require_torch

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from tokenizers import Tokenizer


def _output_size(model: Any) -> int | None:
    """The size of the model's output layer (its next-token vocabulary), when it declares one."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(size) if isinstance(size, int) else None


def check_shared_vocabulary(
    observer_tokenizer: Tokenizer,
    performer_tokenizer: Tokenizer,
    observer_model: Any = None,
    performer_model: Any = None,
) -> None:
    """Raise InvalidParameterError unless both tokenizers map the same strings to the same ids
    (added/special tokens included) and both models predict over vocabularies of the same size.
    """
    vo = observer_tokenizer.get_vocab(with_added_tokens=True)
    vp = performer_tokenizer.get_vocab(with_added_tokens=True)
    if vo != vp:
        only_o = sorted(set(vo) - set(vp))[:3]
        only_p = sorted(set(vp) - set(vo))[:3]
        moved = sorted(k for k in set(vo) & set(vp) if vo[k] != vp[k])[:3]
        raise InvalidParameterError(
            "performer: expected a model sharing the observer's tokenizer (same tokens, same ids), "
            f"got vocabularies of {len(vo)} and {len(vp)} tokens that differ (only in the "
            f"observer: {only_o}, only in the performer: {only_p}, different ids: {moved})"
        )
    if observer_model is not None and performer_model is not None:
        so, sp = _output_size(observer_model), _output_size(performer_model)
        if so != sp:
            raise InvalidParameterError(
                "performer: expected the same output vocabulary size as the observer, got "
                f"{sp} (observer: {so})"
            )


def binoculars_ratio(
    observer_logits: torch.Tensor,
    performer_logits: torch.Tensor,
    targets: torch.Tensor,
    valid: torch.Tensor,
) -> np.ndarray:
    """``B`` per row (float64, (b,)); see the module docstring.

    ``observer_logits`` and ``performer_logits`` are (b, T, V) next-token logits at the positions
    that predict ``targets`` (b, T); ``valid`` (b, T, bool) marks real (not padding) targets.
    Every row needs at least one valid target.
    """
    torch = require_torch()
    log_q = torch.log_softmax(performer_logits.float(), dim=-1)  # (b, T, V) performer
    p_obs = torch.softmax(observer_logits.float(), dim=-1)  # (b, T, V) observer
    nll = -log_q.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (b, T)
    # where the observer gives a token probability 0 it adds nothing, even if log_q is -inf
    cross = -torch.where(p_obs > 0, p_obs * log_q, 0.0).sum(dim=-1)  # (b, T)
    n = valid.sum(dim=1).double()
    # padding targets are masked out, and the sums are taken in float64
    log_ppl = torch.where(valid, nll.double(), 0.0).sum(dim=1) / n
    log_xppl = torch.where(valid, cross.double(), 0.0).sum(dim=1) / n
    return (log_ppl / log_xppl).cpu().numpy()
