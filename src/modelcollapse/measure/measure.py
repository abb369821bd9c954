"""``measure``: compare a candidate with a human reference and say whether it has collapsed.

>>> from modelcollapse.measure import measure
>>> result = measure(reference_docs, candidate_docs, kind="text", rng=0)
>>> result.verdict, result.metrics["rare_recall"].flagged

Every metric is computed on the candidate and on a size-matched healthy stand-in drawn from the
reference (:mod:`.arms`), with bootstrap intervals (:mod:`.bootstrap`, ``n_boot`` replicates;
metrics registered ``expensive`` get ``n_boot_expensive``); each metric is flagged or not and
the flags make the verdict (:mod:`.verdict`).

Kinds: ``"text"`` (lists of documents; text metrics of the registry, plus embedding metrics
under ``embedding.<name>`` when ``embeddings`` is on, computed on the sentence embeddings of a
uniform subsample of at most ``expensive_cap`` candidate and ``2 * expensive_cap`` reference
documents), ``"numeric"`` (arrays (n, d)) and
``"embedding"`` (arrays of vectors, measured with the embedding metric set). Metrics are named
as in the registry (``modelcollapse.metrics.available("text")``); a mistyped name gets a
suggestion. Without ``metrics`` the defaults of :data:`DEFAULT_METRICS` that are registered are
used. Text metrics count the tokens of ``tokenizer``, ``"whitespace"`` (``str.split()``) unless
another is named; the result records which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelcollapse.data.tokenize import get_tokenizer, tokenizer_name
from modelcollapse.errors import DataError, InvalidParameterError, MissingExtraError, did_you_mean
from modelcollapse.measure.arms import (
    Layout,
    capped_layout,
    one_sample_layout,
    subsample,
    two_sample_layout,
)
from modelcollapse.measure.bootstrap import check_level, check_n_boot, interval, standard_error
from modelcollapse.measure.evaluate import Evaluation, evaluate, evaluate_many, text_tables
from modelcollapse.measure.kernels import text_kernel
from modelcollapse.measure.result import MeasureResult, MetricResult
from modelcollapse.measure.verdict import (
    decide,
    down_is_bad,
    effect_of,
    effect_scale,
    is_flagged,
    role_of,
    tolerance_of,
)
from modelcollapse.metrics.functional.moments import data_variance
from modelcollapse.metrics.functional.text import Tokenizer, tokenize_documents
from modelcollapse.metrics.functional.validation import as_documents, as_points
from modelcollapse.metrics.registry import MetricSpec, available, get
from modelcollapse.rng import as_generator

MeasureKind = Literal["text", "numeric", "embedding"]
KINDS: tuple[str, ...] = ("text", "numeric", "embedding")
EMBEDDING_PREFIX = "embedding."

# The metrics measure computes when none are named, in display order. Every role of the
# verdict is represented for each kind. ``mauve`` is left out of the defaults: one MAUVE run
# (k-means on both samples) costs seconds, so its bootstrap costs minutes; name it to get it.
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "text": (
        "rare_recall",
        "vocab_size",
        "entropy",
        "distinct_2",
        "ngram_diversity",
        "self_bleu",
        "self_repetition",
        "rep_n",
        "compression_ratio",
        "perplexity",
        "js",
    ),
    "numeric": (
        "extreme_quantile_ratio",
        "variance",
        "frechet_distance",
        "mmd",
        "sliced_wasserstein",
    ),
    "embedding": (
        "coverage",
        "recall",
        "vendi_score",
        "frechet_distance",
        "mmd",
        "precision",
    ),
}


# Metrics treated as expensive even when their registration does not say ``expensive=True``:
# corpus-level text metrics without a kernel (tens of milliseconds per thousand documents and
# call) and numeric ones whose call costs a d x d eigendecomposition or many projections.
EXPENSIVE: frozenset[str] = frozenset(
    {
        "self_bleu",
        "compression_ratio",
        "perplexity",
        "frechet_distance",
        "vendi_score",
        "sliced_wasserstein",
    }
)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParameterError(
            f"kind: expected one of {', '.join(KINDS)}, got {kind!r}{did_you_mean(str(kind), KINDS)}"
        )
    return kind


def registry_kind(kind: str) -> str:
    """The registry's data kind of a measure kind (embeddings are numeric vectors)."""
    return "text" if kind == "text" else "numeric"


def default_metric_names(kind: str) -> list[str]:
    """The registered default metrics of a measure kind, in display order."""
    registered = set(available(registry_kind(check_kind(kind))))
    return [name for name in DEFAULT_METRICS[kind] if name in registered]


def check_text(docs: Any, name: str, tokenizer: Tokenizer | str | None = None) -> list[str]:
    """Documents as a list of str, each with at least one token of ``tokenizer`` (None: the
    default, ``"whitespace"``), else DataError naming the record."""
    docs = as_documents(docs, name)
    for i, tokens in enumerate(tokenize_documents(docs, tokenizer)):
        if not tokens:
            raise DataError(f"{name}: record {i + 1} has no tokens; expected at least one")
    return docs


def check_vectors(reference: Any, candidate: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as finite float arrays (n, d) with the same ``d``."""
    ref = as_points(reference, "reference")
    cand = as_points(candidate, "candidate")
    if cand.shape[1] != ref.shape[1]:
        raise DataError(
            f"candidate: expected {ref.shape[1]} column(s) like the reference, got {cand.shape[1]}"
        )
    return ref, cand


@dataclass
class _Plan:
    """The metrics of one data kind and the layouts they are measured on."""

    data_kind: str
    reference: Any
    candidate: Any
    specs: list[tuple[str, MetricSpec]]  # (display name, spec)
    rng: np.random.Generator
    n_boot: int
    n_boot_expensive: int
    expensive_cap: int
    tokenizer: Tokenizer | str | None = None  # of the text metrics (and their count tables)

    def __post_init__(self) -> None:
        # Fixed streams per layout, whichever metrics are asked for.
        one, two, one_cap, two_cap = self.rng.spawn(4)
        self._rngs = {("one", False): one, ("two", False): two}
        self._rngs |= {("one", True): one_cap, ("two", True): two_cap}
        self._layouts: dict[tuple[str, bool], Layout] = {}

    def layout(self, two_sample: bool, expensive: bool = False) -> Layout:
        key = ("two" if two_sample else "one", expensive)
        if key not in self._layouts:
            if expensive:
                self._layouts[key] = capped_layout(
                    self.layout(two_sample), self.expensive_cap, self.n_boot_expensive,
                    self._rngs[key],
                )  # fmt: skip
            else:
                build = two_sample_layout if two_sample else one_sample_layout
                self._layouts[key] = build(
                    self.reference, self.candidate, self.n_boot, self._rngs[key]
                )
        return self._layouts[key]

    def is_expensive(self, spec: MetricSpec) -> bool:
        return (spec.expensive or spec.name in EXPENSIVE) and self.kernel(spec) is None

    def kernel(self, spec: MetricSpec) -> Any:
        return text_kernel(spec.name, spec.fn) if self.data_kind == "text" else None

    def evaluate_all(self, seed: int) -> dict[str, tuple[Evaluation, Layout]]:
        """Every metric's :class:`Evaluation` and the layout it was computed on."""
        out: dict[str, tuple[Evaluation, Layout]] = {}
        tables: dict[str, Any] = {}
        generic: dict[tuple[bool, bool], list[tuple[str, MetricSpec]]] = {}
        for display, spec in self.specs:
            kernel = self.kernel(spec)
            if kernel is None:
                key = (spec.needs_reference, self.is_expensive(spec))
                generic.setdefault(key, []).append((display, spec))
                continue
            layout = self.layout(spec.needs_reference)
            if layout.kind not in tables:
                tables[layout.kind] = text_tables(layout, self.tokenizer)
            ev = evaluate(
                spec, self.data_kind, layout, n_boot=self.n_boot, seed=seed, kernel=kernel,
                tables=tables[layout.kind], tokenizer=self.tokenizer,
            )  # fmt: skip
            out[display] = (ev, layout)
        for (two_sample, expensive), group in generic.items():
            layout = self.layout(two_sample, expensive)
            n_boot = self.n_boot_expensive if expensive else self.n_boot
            evs = evaluate_many(
                [spec for _, spec in group], self.data_kind, layout, n_boot=n_boot, seed=seed,
                tokenizer=self.tokenizer,
            )  # fmt: skip
            for (display, _), ev in zip(group, evs, strict=True):
                out[display] = (ev, layout)
        return out


def _resolve(names: Sequence[str] | None, kind: str, embeddings: bool) -> tuple[list, list]:
    """Split requested names into (main specs, embedding specs)."""
    if isinstance(names, str):
        raise InvalidParameterError(f"metrics: expected a list of names, got the string {names!r}")
    main_kind = registry_kind(kind)
    if names is None:
        main = [(n, get(n, main_kind)) for n in default_metric_names(kind)]
        emb = (
            [(EMBEDDING_PREFIX + n, get(n, "numeric")) for n in default_metric_names("embedding")]
            if kind == "text" and embeddings
            else []
        )
        return main, emb
    main, emb = [], []
    for name in dict.fromkeys(names):  # drop repeats, keep the order
        if name.startswith(EMBEDDING_PREFIX):
            if kind != "text":
                raise InvalidParameterError(
                    f"metric {name!r}: the {EMBEDDING_PREFIX}* metrics are for kind 'text'; "
                    f"for vectors use kind 'embedding' and the plain name"
                )
            emb.append((name, get(name.removeprefix(EMBEDDING_PREFIX), "numeric")))
        else:
            main.append((name, get(name, main_kind)))
    return main, emb


def _embed(
    reference: list[str], candidate: list[str], cache_dir: str | Path | None, model: Any
) -> tuple[np.ndarray, np.ndarray]:
    from modelcollapse.embeddings import embed_texts

    cache = None if cache_dir is None else Path(cache_dir)
    return (
        embed_texts(reference, model=model, cache_dir=cache),
        embed_texts(candidate, model=model, cache_dir=cache),
    )


def embeddings_available() -> bool:
    """Whether the packaged sentence-embedding model and the ``hf`` extra are installed."""
    import importlib.util

    try:
        from modelcollapse.embeddings import packaged_model_path

        packaged_model_path()
    except (ImportError, MissingExtraError):
        return False
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))


def _result(
    display: str,
    spec: MetricSpec,
    ev: Evaluation,
    layout: Layout,
    *,
    level: float,
    tolerances: dict[str, float] | None,
    spread: tuple[float, int] | None,
) -> MetricResult:
    """Intervals, flag and everything else reported about one metric."""
    ci = interval(ev.candidate, ev.candidate_reps, level)
    ref_ci = interval(ev.reference, ev.reference_reps, level)
    delta = interval(ev.candidate - ev.reference, ev.candidate_reps - ev.reference_reps, level)
    base = display.removeprefix(EMBEDDING_PREFIX)
    se = standard_error(ev.reference_reps)
    scale = effect_scale(effect_of(base), ev.reference, se, spread)
    role = role_of(spec, base)
    tol = tolerance_of(role, tolerances, base)
    down_bad = down_is_bad(spec, role)
    flagged = is_flagged(down_bad, delta.low, delta.high, scale, tol)
    direction = None if down_bad is None else ("down" if down_bad else "up")
    n_boot = int(np.count_nonzero(~np.isnan(ev.candidate_reps)))
    return MetricResult(
        name=display, role=role, higher_is_better=spec.higher_is_better, bad_direction=direction,
        candidate=ev.candidate, reference=ev.reference, ci_low=ci.low, ci_high=ci.high,
        reference_ci_low=ref_ci.low, reference_ci_high=ref_ci.high,
        delta_low=delta.low, delta_high=delta.high, scale=float(scale), tolerance=tol,
        flagged=flagged, n_boot=n_boot, n_matched=layout.n_matched, layout=layout.kind,
        vectorised=ev.vectorised,
    )  # fmt: skip


def measure(
    reference: Any,
    candidate: Any,
    *,
    kind: MeasureKind = "text",
    metrics: Sequence[str] | None = None,
    rng: np.random.Generator | int,
    n_boot: int = 200,
    n_boot_expensive: int = 30,
    expensive_cap: int = 1000,
    level: float = 0.95,
    tolerances: dict[str, float] | None = None,
    embeddings: bool | None = False,
    cache_dir: str | Path | None = None,
    embedding_model: Any = None,
    tokenizer: Tokenizer | str | None = None,
) -> MeasureResult:
    """Measure ``candidate`` against the human ``reference``; see the module docstring.

    Args:
        reference, candidate: documents (``kind="text"``) or arrays (n, d).
        kind: "text", "numeric" or "embedding".
        metrics: registry names (``embedding.<name>`` for embedding metrics of text), or None
            for :data:`DEFAULT_METRICS`.
        rng: a ``numpy.random.Generator`` or an int seed; the same seed gives the same result.
        n_boot: bootstrap replicates per metric (>= 2).
        n_boot_expensive, expensive_cap: expensive metrics (registered ``expensive=True``, or
            in :data:`EXPENSIVE`, and without a vectorised kernel) get ``n_boot_expensive``
            replicates on at most ``expensive_cap`` records per side (a uniform subsample of
            the size-matched data; candidate and probe stay matched).
        level: confidence level of the intervals.
        tolerances: overrides of the verdict's tolerances, keyed by role or by metric name
            (see :mod:`.verdict`).
        embeddings: for text, also measure sentence embeddings (True), not (False) or when the
            embeddings extra is installed (None). cache_dir: the embeddings' on-disk cache.
            embedding_model: passed to :func:`modelcollapse.embeddings.embed_texts` (None: the
            packaged all-MiniLM-L6-v2).
        tokenizer: how the text metrics tokenize (``kind="text"`` only): ``"whitespace"``
            (``str.split()``, the default when None), ``"words"``, ``"regex:PATTERN"``,
            ``"lower:SPEC"`` (:func:`modelcollapse.data.tokenize.get_tokenizer`) or a callable
            ``str -> list[str]``. Every record needs at least one token. Perplexity is per
            model token whatever the tokenizer; the result records it
            (:attr:`~.result.MeasureResult.tokenizer`).
    """
    kind = check_kind(kind)  # type: ignore[assignment]
    n_boot = check_n_boot(n_boot)
    n_boot_expensive = check_n_boot(n_boot_expensive, "n_boot_expensive")
    expensive_cap = check_n_boot(expensive_cap, "expensive_cap")
    level = check_level(level)
    if tolerances:
        from modelcollapse.metrics.registry import ROLES

        for key, tol in tolerances.items():
            ok_number = isinstance(tol, (int, float)) and not isinstance(tol, bool) and tol >= 0
            if not isinstance(key, str) or not ok_number:
                raise InvalidParameterError(
                    f"tolerances: expected {{role or metric name: number >= 0}} (roles: "
                    f"{', '.join(ROLES)}), got {key!r}: {tol!r}"
                )
    get_tokenizer(tokenizer)  # an unknown name fails before any work
    gen = as_generator(rng)
    if kind == "text":
        reference = check_text(reference, "reference", tokenizer)
        candidate = check_text(candidate, "candidate", tokenizer)
    else:
        reference, candidate = check_vectors(reference, candidate)
    notes: list[str] = []
    use_emb = False
    if kind == "text" and embeddings is not False:
        use_emb = bool(embeddings) or embedding_model is not None or embeddings_available()
        if embeddings is None and not use_emb:
            notes.append("embedding metrics skipped: install modelcollapse[hf] to add them")
    main_specs, emb_specs = _resolve(metrics, kind, use_emb)
    if not main_specs and not emb_specs:
        raise InvalidParameterError(f"metrics: expected at least one metric name for {kind} data")
    seed = int(gen.integers(2**63))
    main_rng, emb_rng = gen.spawn(2)
    sizes = (n_boot, min(n_boot, n_boot_expensive), expensive_cap)
    plans = [
        _Plan(registry_kind(kind), reference, candidate, main_specs, main_rng, *sizes, tokenizer)
    ]
    if emb_specs:
        # Embedding is the slow part (about 150 documents/s on 2 CPU cores, cached) and the
        # embedding metrics are expensive ones, bootstrapped on at most ``expensive_cap``
        # records per side: embed only a uniform subsample of that size (twice that for the
        # reference, which is split into an anchor and a probe).
        sub_rng, emb_rng = emb_rng.spawn(2)
        ref_texts = subsample(reference, 2 * expensive_cap, sub_rng)
        cand_texts = subsample(candidate, expensive_cap, sub_rng)
        ref_vec, cand_vec = _embed(ref_texts, cand_texts, cache_dir, embedding_model)
        ref_vec, cand_vec = check_vectors(ref_vec, cand_vec)
        plans.append(_Plan("numeric", ref_vec, cand_vec, emb_specs, emb_rng, *sizes))
    results: dict[str, MetricResult] = {}
    for plan in plans:
        evaluations = plan.evaluate_all(seed)
        spread = None
        if plan.data_kind == "numeric":
            spread = (data_variance(plan.reference), int(plan.reference.shape[1]))
        for display, spec in plan.specs:  # the requested order
            ev, layout = evaluations[display]
            results[display] = _result(
                display, spec, ev, layout, level=level, tolerances=tolerances, spread=spread
            )
    flags: dict[str, list[str]] = {}
    for name, res in results.items():
        if res.flagged and res.role is not None:
            flags.setdefault(res.role, []).append(name)
    measured_roles = {r.role for r in results.values() if r.role is not None}
    decision = decide(flags, measured_roles)
    return MeasureResult(
        verdict=decision.verdict, reasons=decision.reasons, metrics=results, kind=kind,
        n_candidate=len(candidate), n_reference=len(reference), n_boot=n_boot, level=level,
        seed=seed, notes=notes, tokenizer=tokenizer_name(tokenizer) if kind == "text" else None,
    )  # fmt: skip
