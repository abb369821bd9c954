"""Labelled human-vs-AI evaluation sets: KJV verses against model continuations of KJV prompts.

The protocol of DetectGPT (Mitchell et al. 2023, "DetectGPT: Zero-Shot Machine-Generated Text
Detection using Probability Curvature", ICML, section 5): each human passage's first tokens are
the prompt, a model writes the rest, and a detector must tell the human passage from the
machine-written one that starts the same way. Here:

- human documents: KJV verses from one fixed split (:func:`modelcollapse.data.bundled.kjv_split`;
  train the detectors on ``"train"``, evaluate on ``"heldout"``) with at least
  ``prompt_tokens + min_new_tokens`` tokens, drawn without replacement with ``rng``;
- synthetic documents: for every chosen verse, its first ``prompt_tokens`` tokens followed by a
  continuation from a :data:`Continuer` (the trigram model by default, :func:`ngram_continuer`);
- both sides get the same surface form, ``detokenize(tokenize(text))`` (:func:`normalize_text`):
  n-gram output is joined that way (``"Pharaoh' s"``), and without the same treatment of human
  text a character n-gram detector would learn the formatting instead of the language.

A :data:`Continuer` maps prompts to full documents (prompt included), so other generators plug in
with one function: :func:`ngram_continuer`, :func:`transformer_continuer` (SmolLM2's continuations
are built in ``benchmarks/zero_shot.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.tokenize import detokenize, tokenize
from modelcollapse.errors import InvalidParameterError, NotFittedError
from modelcollapse.generators.kneser_ney import EOS, UNK
from modelcollapse.generators.kneser_ney_sampler import TemperatureSampler
from modelcollapse.generators.ngram import SPECIALS, NGram
from modelcollapse.generators.validation import check_choice, check_float, check_int
from modelcollapse.rng import as_generator

if TYPE_CHECKING:
    from modelcollapse.generators.transformer import Transformer

Continuer = Callable[[list[str], np.random.Generator], list[str]]
"""``continuer(prompts, rng) -> documents``: one full document (prompt + continuation) per prompt."""

HUMAN, SYNTHETIC = 0, 1


def normalize_text(text: str) -> str:
    """``detokenize(tokenize(text))``: the surface form n-gram samples have."""
    return detokenize(tokenize(text))


def ngram_continue(
    model: NGram,
    prompts: Sequence[str],
    *,
    rng: np.random.Generator,
    temperature: float = 1.0,
    max_new_tokens: int = 100,
) -> list[str]:
    """Continue every prompt with a fitted :class:`NGram` until ``</s>`` or ``max_new_tokens``.

    The prompt's last ``n - 1`` tokens are the first context (unknown words count as ``<unk>``);
    tokens are drawn from ``p(w | h) ** (1/T)`` exactly as :meth:`NGram.sample` draws them. Returns
    ``detokenize(prompt tokens + new tokens)`` per prompt.
    """
    if not hasattr(model, "tables_"):
        raise NotFittedError("ngram_continue: expected a fitted NGram model")
    temperature = check_float("temperature", temperature, low_inclusive=False)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=1)
    tables, outcomes = model.tables_, model.outcomes_
    index = {t: i for i, t in enumerate(outcomes) if i >= len(SPECIALS)}
    toks = [tokenize(p, bool(model.lowercase)) for p in prompts]
    order = tables.n
    history = np.full((len(toks), order - 1), tables.bos, dtype=np.int64)
    if order > 1:
        for i, t in enumerate(toks):
            ids = [index.get(w, UNK) for w in t[-(order - 1) :]]
            if ids:
                history[i, -len(ids) :] = ids
    sampler = TemperatureSampler(tables, temperature)
    new: list[list[str]] = [[] for _ in toks]
    active = np.arange(len(toks))
    for _ in range(max_new_tokens):
        if not active.size:
            break
        nxt = sampler.draw(tables.context_ids(history[active]), rng)
        go = nxt != EOS
        active, nxt = active[go], nxt[go]
        for i, t in zip(active.tolist(), nxt.tolist(), strict=True):
            new[i].append(outcomes[t])
        if order > 1:
            history[active, :-1] = history[active, 1:]
            history[active, -1] = nxt
    return [detokenize(t + g) for t, g in zip(toks, new, strict=True)]


def ngram_continuer(
    model: NGram, *, temperature: float = 1.0, max_new_tokens: int = 100
) -> Continuer:
    """A :data:`Continuer` from a fitted n-gram model (see :func:`ngram_continue`)."""

    def continuer(prompts: list[str], rng: np.random.Generator) -> list[str]:
        return ngram_continue(
            model, prompts, rng=rng, temperature=temperature, max_new_tokens=max_new_tokens
        )

    return continuer


def transformer_continuer(model: Transformer, *, temperature: float | None = None) -> Continuer:
    """A :data:`Continuer` from a fitted ``transformer`` generator (:meth:`Transformer.continue_texts`:
    its top-k, top-p and ``max_new_tokens``; ``temperature`` overrides the model's for these calls).
    """

    def continuer(prompts: list[str], rng: np.random.Generator) -> list[str]:
        saved = model.temperature
        if temperature is not None:
            model.temperature = check_float("temperature", temperature, low_inclusive=False)
        try:
            return model.continue_texts(prompts, rng=rng)
        finally:
            model.temperature = saved

    return continuer


def fit_kjv_ngram(n: int = 3) -> NGram:
    """An order-``n`` :class:`NGram` fitted on every KJV *training* verse (about 1 s for n = 3)."""
    train, _ = kjv_split()
    return NGram(n=n).fit([d.text for d in train])


@dataclass(frozen=True)
class DetectionSet:
    """Documents with labels (0 human, 1 synthetic) and the citation of the verse behind each."""

    docs: list[str]
    labels: np.ndarray
    citations: list[str]

    @property
    def human(self) -> list[str]:
        return [d for d, y in zip(self.docs, self.labels, strict=True) if y == HUMAN]

    @property
    def synthetic(self) -> list[str]:
        return [d for d, y in zip(self.docs, self.labels, strict=True) if y == SYNTHETIC]


def build_detection_set(
    continuer: Continuer,
    *,
    n_per_class: int,
    rng: np.random.Generator | int,
    split: Literal["train", "heldout"] = "heldout",
    prompt_tokens: int = 5,
    min_new_tokens: int = 3,
) -> DetectionSet:
    """``n_per_class`` human verses and as many continuations of their first ``prompt_tokens``.

    Documents are ordered human first, then synthetic, the ``i``-th synthetic document continuing
    the ``i``-th human verse. Raises InvalidParameterError when the split has too few verses.
    """
    rng = as_generator(rng)
    check_choice("split", split, ("train", "heldout"))
    n_per_class = check_int("n_per_class", n_per_class, low=1)
    prompt_tokens = check_int("prompt_tokens", prompt_tokens, low=1)
    min_new_tokens = check_int("min_new_tokens", min_new_tokens, low=0)
    train, heldout = kjv_split()
    pool = train if split == "train" else heldout
    toks = [tokenize(d.text) for d in pool]
    eligible = [i for i, t in enumerate(toks) if len(t) >= prompt_tokens + min_new_tokens]
    if n_per_class > len(eligible):
        raise InvalidParameterError(
            f"n_per_class: expected at most {len(eligible)} (verses of the {split} split with >= "
            f"{prompt_tokens + min_new_tokens} tokens), got {n_per_class}"
        )
    chosen = np.sort(rng.choice(len(eligible), size=n_per_class, replace=False))
    picked = [eligible[i] for i in chosen]
    human = [detokenize(toks[i]) for i in picked]
    prompts = [detokenize(toks[i][:prompt_tokens]) for i in picked]
    synthetic = [normalize_text(d) for d in continuer(prompts, rng)]
    if len(synthetic) != len(prompts):
        raise InvalidParameterError(
            f"continuer: expected {len(prompts)} documents, got {len(synthetic)}"
        )
    citations = [pool[i].id for i in picked]
    labels = np.r_[np.full(n_per_class, HUMAN), np.full(n_per_class, SYNTHETIC)].astype(np.int64)
    return DetectionSet(docs=human + synthetic, labels=labels, citations=citations * 2)
