"""Which closed-form curve of :mod:`modelcollapse.loop.theory` a report overlays on a metric.

A curve is drawn only where the run is exactly the setting the formula was derived for;
otherwise nothing is drawn (a wrong reference line is worse than none):

- **Gaussian, replace** (Shumailov et al. 2024, Nature 631): data source ``gaussian`` in one
  dimension, model ``gaussian`` (``estimator`` mle or unbiased, ``scale`` 1, ``reg`` 0),
  policy ``replace``. Each refit on ``M = samples_per_generation`` samples multiplies the
  variance by ``χ²_{M-1}/c`` (``c = M`` for MLE, ``M - 1`` unbiased), so the median of
  ``σ²_g/σ²_0`` is about ``exp(E[ln σ²_g/σ²_0]) = exp(g [ψ((M-1)/2) + ln(2/c)])``
  (:func:`~modelcollapse.loop.theory.gaussian_median_variance`). For ``variance_ratio``, whose
  denominator is the real sample's ML variance, the unbiased estimator's generation 0 adds the
  factor ``n/(n-1)`` (``n`` real points). For ``variance`` (the model's variance) the first fit
  on the ``n`` real points counts too and the curve is ``σ² exp(E ln(first fit) + E ln(g refits))``.
  These are medians, drawn against the median line.
- **Linear regression, replace or accumulate** (Gerstgrasser et al. 2024, Theorems 1 and 2):
  data source ``linear``, model ``linear`` (no intercept, ``noise`` equal to the data's),
  ``T = samples_per_generation`` equal to the real rows ``n``; ``test_error`` at generation
  ``g`` (the model fitted ``g + 1`` times) has mean ``(g + 1) E_1`` under replace and
  ``E_1 Σ_{i<=g+1} 1/i²`` under accumulate, ``E_1 = σ² d / (T - d - 1)``. These are means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelcollapse.loop import theory
from modelcollapse.loop.config import ExperimentConfig

SHUMAILOV = "Shumailov et al. 2024"
GERSTGRASSER = "Gerstgrasser et al. 2024"


@dataclass(frozen=True)
class TheoryCurve:
    """A closed-form prediction per generation."""

    label: str  # what the curve is, e.g. "theory: median (Shumailov et al. 2024)"
    statistic: str  # "median" or "mean": compare it with the matching summary
    generation: np.ndarray
    value: np.ndarray


def _one_dimensional(params: dict[str, Any]) -> float | None:
    """The true variance of a 1-D ``gaussian`` data source, None when it has more dimensions."""
    mean, std, cov = params.get("mean", 0.0), params.get("std"), params.get("cov")

    def size(x: Any) -> int:
        return int(np.asarray(x, dtype=float).size)

    if (
        size(mean) != 1
        or (std is not None and size(std) != 1)
        or (cov is not None and size(cov) != 1)
    ):
        return None
    if cov is not None:
        return float(np.asarray(cov, dtype=float).ravel()[0])
    return float(np.asarray(1.0 if std is None else std, dtype=float).ravel()[0]) ** 2


def _gaussian(cfg: ExperimentConfig, metric: str, gen: np.ndarray) -> TheoryCurve | None:
    params = cfg.model.params
    if set(params) - {"estimator", "scale", "reg"}:
        return None
    estimator = params.get("estimator", "mle")
    if (
        estimator not in ("mle", "unbiased")
        or params.get("scale", 1.0) != 1
        or params.get("reg", 0.0) != 0
    ):
        return None
    sigma2 = _one_dimensional(cfg.data.params)
    m = cfg.samples_per_generation
    n_real = int(cfg.data.params.get("n", 100))
    if sigma2 is None or m < 2 or n_real < 2:
        return None
    refits = theory.gaussian_log_variance(gen, m, estimator=estimator)
    if metric == "variance_ratio":
        offset = 0.0 if estimator == "mle" else math.log(n_real / (n_real - 1))
        value = np.exp(offset + refits)
    elif metric == "variance":
        first = theory.gaussian_log_variance(1, n_real, estimator=estimator)
        value = sigma2 * np.exp(first + refits)
    else:
        return None
    return TheoryCurve(f"theory: median ({SHUMAILOV})", "median", gen, np.asarray(value, float))


def _linear(cfg: ExperimentConfig, metric: str, gen: np.ndarray) -> TheoryCurve | None:
    if metric != "test_error":
        return None
    data = cfg.data.params
    d, t, noise = int(data.get("d", 10)), int(data.get("n", 100)), float(data.get("noise", 1.0))
    params = cfg.model.params
    if set(params) - {"noise", "fit_intercept"} or params.get("fit_intercept", False):
        return None
    if params.get("noise") is None or float(params["noise"]) != noise:
        return None
    if cfg.samples_per_generation != t or t <= d + 1:
        return None
    fits = gen + 1
    if cfg.policy.kind == "replace":
        value = theory.linear_replace_error(fits, d, t, noise)
    else:
        value = theory.linear_accumulate_error(fits, d, t, noise)
    return TheoryCurve(f"theory: mean ({GERSTGRASSER})", "mean", gen, np.asarray(value, float))


def theory_curve(
    cfg: ExperimentConfig | None, metric: str, generations: np.ndarray
) -> TheoryCurve | None:
    """The closed-form curve of ``metric`` for a run of ``cfg`` (None where none applies)."""
    if cfg is None or cfg.policy.params:
        return None
    gen = np.asarray(generations, dtype=np.int64)
    if (
        cfg.data.source == "gaussian"
        and cfg.model.kind == "gaussian"
        and cfg.policy.kind == "replace"
    ):
        return _gaussian(cfg, metric, gen)
    if (
        cfg.data.source == "linear"
        and cfg.model.kind == "linear"
        and cfg.policy.kind in ("replace", "accumulate")
    ):
        return _linear(cfg, metric, gen)
    return None
