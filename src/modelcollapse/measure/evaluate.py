"""Evaluate one registered metric on a layout: point values and bootstrap replicates.

The metric is called through the registry with a measure-mode :class:`MetricContext`
(``model=None``, ``samples`` = candidate or probe records, ``reference`` = ``heldout`` = the
anchor for two-sample metrics or the probe for one-sample metrics, ``truth=None``,
``tokenizer`` = the measurement's tokenizer). The
candidate and the probe of replicate ``b`` share the anchor replicate ``b`` and the metric's
random stream ``b``, so their difference carries no noise from either (common random numbers).

Paths:

- a vectorised kernel (:mod:`.kernels`) when one mirrors the registered function;
- otherwise the generic path: the metric on each resampled corpus, ``2 * (n_boot + 1)``
  calls. ``measure`` runs expensive metrics on a capped layout
  (:func:`~.arms.capped_layout`) with ``n_boot_expensive`` replicates.

A replicate on which the metric raises :class:`DataError` (say a resample without any bigram)
counts as NaN; :func:`~.bootstrap.interval` gives up beyond a share of those.
"""

from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelcollapse.data.tokenize import DEFAULT_TOKENIZER, Tokenizer
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.measure.arms import Layout
from modelcollapse.measure.bootstrap import index_weights
from modelcollapse.measure.kernels import Kernel, TextTables
from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.registry import MetricSpec


@dataclass
class Evaluation:
    """A metric on the candidate and on the probe (the healthy stand-in), with replicates."""

    candidate: float
    reference: float
    candidate_reps: np.ndarray
    reference_reps: np.ndarray
    vectorised: bool


def metric_rng(seed: int, name: str, replicate: int) -> np.random.Generator:
    """The metric's random stream for one replicate (``-1``: the point estimate).

    Keyed by the metric's name, so adding or removing another metric changes nothing here.
    """
    key = (zlib.crc32(name.encode("utf-8")), replicate + 1)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _context(
    data_kind: str,
    samples: Any,
    reference: Any,
    rng: np.random.Generator,
    tokenizer: Tokenizer | str | None = None,
) -> MetricContext:
    return MetricContext(
        data_kind=data_kind,  # type: ignore[arg-type]
        model=None,  # type: ignore[arg-type]  # measure mode: no model, see the module doc
        samples=samples,
        reference=reference,
        heldout=reference,
        truth=None,
        rng=rng,
        tokenizer=DEFAULT_TOKENIZER if tokenizer is None else tokenizer,
    )


def _call(
    spec: MetricSpec,
    data_kind: str,
    samples: Any,
    reference: Any,
    rng: Any,
    tokenizer: Tokenizer | str | None = None,
) -> float:
    return float(spec.fn(_context(data_kind, samples, reference, rng, tokenizer)))


def _generic_many(
    specs: list[MetricSpec],
    data_kind: str,
    layout: Layout,
    n_boot: int,
    seed: int,
    tokenizer: Tokenizer | str | None = None,
) -> list[Evaluation]:
    """The generic path for several metrics on one layout, replicate by replicate.

    Each resampled corpus is built once and every metric sees it in turn (candidate side for
    all metrics, then probe side), so metrics that share a computation through a cache keyed
    by content (the four PRDC numbers) compute it once per replicate and side.
    """
    anchor = layout.anchor
    ref_data = anchor.data if anchor is not None else layout.probe.data
    points = {}
    for arm_name, arm in (("candidate", layout.candidate), ("probe", layout.probe)):
        for spec in specs:
            points[spec.name, arm_name] = _point(
                spec, data_kind, arm.data, ref_data, seed, tokenizer
            )
    reps = {(spec.name, side): np.full(n_boot, np.nan) for spec in specs for side in _SIDES}
    for b in range(n_boot):
        ref_b = anchor.replicate(b) if anchor is not None else ref_data
        for arm_name, arm in (("candidate", layout.candidate), ("probe", layout.probe)):
            data_b = arm.replicate(b)
            for spec in specs:
                with contextlib.suppress(DataError):  # NaN: see the module docstring
                    reps[spec.name, arm_name][b] = _call(
                        spec, data_kind, data_b, ref_b, metric_rng(seed, spec.name, b), tokenizer
                    )
    return [
        Evaluation(
            points[spec.name, "candidate"],
            points[spec.name, "probe"],
            reps[spec.name, "candidate"],
            reps[spec.name, "probe"],
            vectorised=False,
        )
        for spec in specs
    ]


_SIDES = ("candidate", "probe")


def _point(
    spec: MetricSpec,
    data_kind: str,
    samples: Any,
    reference: Any,
    seed: int,
    tokenizer: Tokenizer | str | None = None,
) -> float:
    try:
        rng = metric_rng(seed, spec.name, -1)
        return _call(spec, data_kind, samples, reference, rng, tokenizer)
    except InvalidParameterError as exc:
        # Typically a simulate metric that reads the model (nll, w2, tail_coverage): measure
        # has none. Say so instead of leaving "expected a model ..., got NoneType" unexplained.
        if "model" in str(exc):
            raise InvalidParameterError(
                f"metric {spec.name!r} cannot run in measure mode (no model; it is a simulate "
                f"metric): {exc}"
            ) from None
        raise


def _vectorised(kernel: Kernel, tables: TextTables, layout: Layout, n_boot: int) -> Evaluation:
    anchor = layout.anchor
    ones_a = np.ones((1, anchor.n)) if anchor is not None else None
    reps_a = index_weights(anchor.indices[:n_boot], anchor.n) if anchor is not None else None
    values = {}
    for arm_name, arm in (("candidate", layout.candidate), ("probe", layout.probe)):
        point = kernel(tables, arm_name, np.ones((1, arm.n)), ones_a)[0]
        reps = kernel(tables, arm_name, index_weights(arm.indices[:n_boot], arm.n), reps_a)
        values[arm_name] = (float(point), reps)
    (c, c_reps), (r, r_reps) = values["candidate"], values["probe"]
    return Evaluation(c, r, c_reps, r_reps, vectorised=True)


def evaluate(
    spec: MetricSpec,
    data_kind: str,
    layout: Layout,
    *,
    n_boot: int,
    seed: int,
    kernel: Kernel | None = None,
    tables: TextTables | None = None,
    tokenizer: Tokenizer | str | None = None,
) -> Evaluation:
    """Point values and ``n_boot`` replicates of ``spec`` on the candidate and the probe.

    ``tokenizer`` goes to the text metrics (:attr:`MetricContext.tokenizer`; None: the
    default); a kernel reads the ``tables``, which must have been built with the same one.
    """
    n_boot = min(n_boot, layout.n_boot)
    if kernel is not None and tables is not None:
        return _vectorised(kernel, tables, layout, n_boot)
    return _generic_many([spec], data_kind, layout, n_boot, seed, tokenizer)[0]


def evaluate_many(
    specs: list[MetricSpec],
    data_kind: str,
    layout: Layout,
    *,
    n_boot: int,
    seed: int,
    tokenizer: Tokenizer | str | None = None,
) -> list[Evaluation]:
    """:func:`evaluate` on the generic path for several metrics at once (same results)."""
    n_boot = min(n_boot, layout.n_boot)
    return _generic_many(specs, data_kind, layout, n_boot, seed, tokenizer)


def text_tables(layout: Layout, tokenizer: Tokenizer | str | None = None) -> TextTables:
    """The count tables of a text layout's arms (see :class:`.kernels.TextTables`), tokenized
    with ``tokenizer`` (None: the default, ``"whitespace"``)."""
    arms = {"candidate": layout.candidate.data, "probe": layout.probe.data}
    if layout.anchor is not None:
        arms["anchor"] = layout.anchor.data
    return TextTables(arms, tokenizer)
