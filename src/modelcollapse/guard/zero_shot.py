"""Zero-shot human-vs-AI detectors over a local causal LM: log-likelihood, log-rank,
Fast-DetectGPT and Binoculars.

Zero-shot means no labelled training data: a document is scored by how a language model sees
it. Every score is oriented the same way as the rest of :mod:`modelcollapse.guard`: **higher
means more likely AI-generated** (calibrate thresholds with :mod:`modelcollapse.guard.calibration`).

The document model. A document is tokenised with the LM's tokenizer (no special tokens) into
``x_1..x_T`` and scored as the sequence ``BOS x_1 .. x_T``: every document token is predicted,
the first from BOS alone; the end-of-document token is *not* scored, because a human excerpt
need not end where a document would. ``p(. | x_<t)`` is the model's next-token distribution.
**Truncation**: only the first ``max_length`` tokens are scored (and never more than the model's
context minus one, for BOS); the rest of a longer document is ignored. A document that is empty
or blank (nothing but whitespace) is a :class:`~modelcollapse.errors.DataError`.

Methods (``method=``):

- ``"loglik"``: the mean log-likelihood ``(1/T) sum_t log p(x_t | x_<t)`` (Solaiman et al. 2019,
  "Release Strategies and the Social Impacts of Language Models"; Gehrmann et al. 2019, GLTR).
  Sampled text sits in the model's high-probability region.
- ``"logrank"``: minus the mean log-rank, ``-(1/T) sum_t log r_t`` with
  ``r_t = 1 + #{v : logit_t(v) > logit_t(x_t)}`` the 1-based rank of the observed token (ties
  rank optimistically, so the rank is deterministic); the log-rank baseline of Mitchell et al.
  2023 (DetectGPT, ICML), after GLTR.
- ``"fast-detectgpt"``: the analytic sampling discrepancy of Bao et al. 2024 (Fast-DetectGPT,
  ICLR), with this one model as both sampling and scoring model. With
  ``mu_t = E_{v ~ p(.|x_<t)}[log p(v | x_<t)]`` (minus the entropy) and
  ``s2_t = Var_{v ~ p(.|x_<t)}[log p(v | x_<t)]``, both computed exactly from the logits,

      d(x) = (sum_t log p(x_t | x_<t) - sum_t mu_t) / sqrt(sum_t s2_t).

  It is the z-score of the observed log-likelihood against texts ``x~`` whose tokens are drawn
  independently, ``x~_t ~ p(. | x_<t)``: about N(0, 1) for the model's own samples, negative for
  human text. Sums over positions (not means), as in the paper: ``d`` grows like ``sqrt(T)``.
  A model that is deterministic at every position has ``sum_t s2_t = 0``; the denominator is
  then floored at the smallest positive float64 rather than dividing by zero.
- ``"binoculars"``: ``-B`` with ``B`` the Binoculars ratio of :mod:`modelcollapse.guard.binoculars`
  (Hans et al. 2024). ``model`` is the observer, ``performer`` the performer; they must share a
  tokenizer. ``B`` is *low* for AI text, hence the sign.

Models. ``model`` (and ``performer``) is a model string resolved offline by
:func:`modelcollapse.generators.hf_loading.resolve_source` (``"smollm2-135m"``, a local model
directory or a ``.gguf`` file; pretrained weights, de-quantised GGUFs cached), or an already
fitted :class:`~modelcollapse.generators.hf.HuggingFaceLM` whose ``model_``, ``tokenizer_`` and
``bos_id_`` are used as they are (its prompt is ignored). The latter serves a fine-tuned copy as
performer, shares one loaded model between several detectors, and lets the tests use the tiny
random test model (``"tiny"`` has no pretrained weights, so as a string it is refused).

Batching: documents are scored in batches of ``batch_size`` sorted by length (a fixed order),
right-padded with an attention mask (exact for a causal LM: a real token never attends to a later
position), under ``torch.no_grad``; per-token terms are computed in float32 and summed in
float64. A batch holds ``batch_size x max_length x vocabulary`` float32 logits, and Fast-DetectGPT
and Binoculars make about four temporaries of that size: about 200 MB each for SmolLM2's 49,152
tokens at the defaults (batch_size 4, max_length 256), so about 1 GB at the peak.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError, unknown_name
from modelcollapse.generators import hf_inference, hf_loading
from modelcollapse.generators.torch_utils import pick_device, require_torch, use_threads
from modelcollapse.generators.validation import check_int
from modelcollapse.guard.binoculars import binoculars_ratio, check_shared_vocabulary
from modelcollapse.guard.classifier import check_corpus

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from tokenizers import Tokenizer

METHODS = ("loglik", "logrank", "fast-detectgpt", "binoculars")


@dataclass(frozen=True)
class ScoringLM:
    """A loaded causal LM ready for scoring: module (eval mode), tokenizer, BOS id, context."""

    model: Any
    tokenizer: Tokenizer
    bos_id: int
    context: int | None  # positions the model attends to, when its config says


def load_scoring_lm(model: Any, device: Any) -> ScoringLM:
    """A :class:`ScoringLM` from a model string or a fitted ``HuggingFaceLM``, on ``device``."""
    from modelcollapse.generators.hf import HuggingFaceLM

    if isinstance(model, HuggingFaceLM):
        if not model.is_fitted:
            raise InvalidParameterError(
                "model: expected a fitted HuggingFaceLM (call fit, e.g. with steps=0, to load "
                "it), got an unfitted one"
            )
        net = model.model_.to(device).eval()
        return ScoringLM(net, model.tokenizer_, int(model.bos_id_), model.context_)
    if not isinstance(model, str):
        raise InvalidParameterError(
            f"model: expected a model name, a path or a fitted HuggingFaceLM, got {model!r}"
        )
    src = hf_loading.resolve_source(model)
    if src.kind == "tiny":
        raise InvalidParameterError(
            "model: expected a model with pretrained weights, got 'tiny' (random weights only); "
            "pass a fitted HuggingFaceLM(model='tiny', init='random') instead"
        )
    net, tok = hf_loading.load_pretrained(src, cache=True)
    bos, _ = hf_loading.special_ids(net, tok, src, None, None)
    return ScoringLM(net.to(device).eval(), tok, bos, hf_loading.context_length(net.config))


def encode(lm: ScoringLM, docs: list[str], max_length: int) -> list[list[int]]:
    """``[BOS, x_1..x_k]`` per document, ``k = min(T, max_length, context - 1)``; DataError for a
    document with no tokens."""
    limit = max_length if lm.context is None else min(max_length, lm.context - 1)
    encoded = lm.tokenizer.encode_batch(docs, add_special_tokens=False)
    seqs = []
    for i, e in enumerate(encoded):
        if not e.ids:
            raise DataError(f"docs[{i}]: expected at least one token, got none from {docs[i]!r}")
        seqs.append([lm.bos_id, *e.ids[:limit]])
    return seqs


def iter_batches(
    seqs: list[list[int]], batch_size: int, pad_id: int, device: Any
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """``(indices, ids (b, L), mask (b, L))`` over batches of similar length, in a fixed order."""
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), i))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = hf_inference.pad_batch([seqs[i] for i in idx], pad_id, device)
        yield idx, ids, mask


def next_token_logits(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Float32 logits (b, L-1, V) at the positions that predict ``ids[:, 1:]``."""
    return model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()


# -- per-document statistics from logits (b, T, V), targets (b, T), valid (b, T) ----------------
def _masked_sum(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Sum over positions in float64, padding excluded: (b,)."""
    torch = require_torch()
    return torch.where(valid, values.double(), 0.0).sum(dim=1)


def _target_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    torch = require_torch()
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def mean_log_likelihood(
    logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> np.ndarray:
    """``(1/T) sum_t log p(x_t | x_<t)`` per row, float64."""
    lp = _target_log_probs(logits, targets)
    return (_masked_sum(lp, valid) / valid.sum(dim=1)).cpu().numpy()


def neg_mean_log_rank(
    logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> np.ndarray:
    """``-(1/T) sum_t log r_t`` per row, ``r_t`` the optimistic 1-based rank of ``x_t``."""
    torch = require_torch()
    observed = logits.gather(-1, targets.unsqueeze(-1))  # (b, T, 1)
    rank = 1 + (logits > observed).sum(dim=-1)  # (b, T)
    return (-_masked_sum(torch.log(rank.double()), valid) / valid.sum(dim=1)).cpu().numpy()


def fast_detectgpt(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> np.ndarray:
    """The analytic sampling discrepancy ``d(x)`` per row (module docstring), float64."""
    torch = require_torch()
    raw = torch.log_softmax(logits, dim=-1)  # (b, T, V)
    p = raw.exp()
    # tokens of probability 0 (logit -inf) contribute nothing to the moments
    logp = torch.where(p > 0, raw, 0.0)
    mu = (p * logp).sum(dim=-1)  # (b, T)  E[log p(v)]
    var = (p * (logp - mu.unsqueeze(-1)).square()).sum(dim=-1)  # (b, T)  centred: no cancellation
    observed = raw.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (b, T)
    num = _masked_sum(observed - mu, valid)
    den = _masked_sum(var, valid).clamp_min(np.finfo(np.float64).tiny).sqrt()
    return (num / den).cpu().numpy()


_STATISTICS = {
    "loglik": mean_log_likelihood,
    "logrank": neg_mean_log_rank,
    "fast-detectgpt": fast_detectgpt,
}


class ZeroShotDetector:
    """Score documents with a local causal LM; higher = more likely AI (see the module docstring).

    Parameters:
        model: the scoring model (the observer for Binoculars): ``"smollm2-135m"``, a local model
            directory, a ``.gguf`` file, or a fitted ``HuggingFaceLM``.
        method: ``"fast-detectgpt"``, ``"loglik"``, ``"logrank"`` or ``"binoculars"``.
        performer: Binoculars' performer model, same forms as ``model`` and sharing its tokenizer
            (required for ``"binoculars"``, refused otherwise). The same name or object as
            ``model`` reuses the loaded model (the one-model perplexity/entropy variant).
        max_length: score at most this many tokens per document (the rest is ignored).
        batch_size: documents per forward pass.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        threads: torch intra-op threads (None: all available cores, or
            ``$MODELCOLLAPSE_TORCH_THREADS``).

    Models are loaded on the first :meth:`score` (or :meth:`load`) and kept: ``observer_`` and
    ``performer_`` (:class:`ScoringLM`; ``performer_`` is None except for Binoculars).
    """

    def __init__(
        self,
        model: Any = "smollm2-135m",
        *,
        method: str = "fast-detectgpt",
        performer: Any = None,
        max_length: int = 256,
        batch_size: int = 4,
        device: str = "auto",
        threads: int | None = None,
    ):
        self.model = model
        self.method = method
        self.performer = performer
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.threads = threads

    def _check_params(self) -> None:
        if not isinstance(self.method, str) or self.method not in METHODS:
            raise unknown_name("zero-shot method", str(self.method), METHODS)
        if self.method == "binoculars" and self.performer is None:
            raise InvalidParameterError(
                "performer: expected a model sharing the observer's tokenizer for "
                "method='binoculars', got None"
            )
        if self.method != "binoculars" and self.performer is not None:
            raise InvalidParameterError(
                f"performer: expected None for method={self.method!r} (only 'binoculars' uses a "
                f"second model), got {self.performer!r}"
            )
        check_int("max_length", self.max_length)
        check_int("batch_size", self.batch_size)

    def _loaded_key(self) -> tuple[Any, ...]:
        # models by identity (strings by value), so assigning another model reloads
        def key(m: Any) -> Any:
            return m if m is None or isinstance(m, str) else id(m)

        return key(self.model), key(self.performer), self.device

    def load(self) -> ZeroShotDetector:
        """Validate the parameters and load the model(s), unless already loaded for them."""
        self._check_params()
        key = self._loaded_key()
        if getattr(self, "_key", None) == key:
            return self
        device = pick_device(self.device)
        observer = load_scoring_lm(self.model, device)
        performer = None
        if self.performer is not None:
            same = self.performer is self.model or (
                isinstance(self.performer, str) and self.performer == self.model
            )
            performer = observer if same else load_scoring_lm(self.performer, device)
            check_shared_vocabulary(
                observer.tokenizer, performer.tokenizer, observer.model, performer.model
            )
        self.observer_, self.performer_ = observer, performer
        self.device_ = device
        self._key = key
        return self

    def score(self, docs: Sequence[str]) -> np.ndarray:
        """One float64 score per document (higher = more likely AI); DataError for a non-str,
        empty or blank document. An empty list gives an empty array."""
        docs = check_corpus(docs, min_docs=0)
        self.load()
        if not docs:
            return np.zeros(0, dtype=np.float64)
        use_threads(self.threads)
        torch = require_torch()
        obs, perf = self.observer_, self.performer_
        seqs = encode(obs, docs, int(self.max_length))
        out = np.empty(len(docs), dtype=np.float64)
        with torch.no_grad():
            for idx, ids, mask in iter_batches(
                seqs, int(self.batch_size), obs.bos_id, self.device_
            ):
                logits = next_token_logits(obs.model, ids, mask)  # (b, T, V)
                targets, valid = ids[:, 1:], mask[:, 1:].bool()
                if perf is None:
                    out[idx] = _STATISTICS[self.method](logits, targets, valid)
                else:
                    perf_logits = (
                        logits if perf is obs else next_token_logits(perf.model, ids, mask)
                    )
                    out[idx] = -binoculars_ratio(logits, perf_logits, targets, valid)
        return out

    __call__ = score

    def __repr__(self) -> str:
        return (
            f"ZeroShotDetector(model={self.model!r}, method={self.method!r}, "
            f"performer={self.performer!r}, max_length={self.max_length!r})"
        )
