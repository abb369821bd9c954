"""Tail coverage: do the real distribution's tails survive in the model?

Early-stage model collapse is the loss of the tails: low-probability events disappear first
(Shumailov et al. 2024, "AI models collapse when trained on recursively generated data",
Nature 631, Sec. 2). We take the held-out real points that lie in the tails of the real training
data (:func:`~modelcollapse.metrics.functional.gaussian.tail_points`: beyond the 1st/99th
percentiles in 1-D, beyond the 98th percentile of Mahalanobis distance for d > 1) and report the
share of them inside the model's 99.9% highest-density region (HDR, Hyndman 1996, "Computing and
graphing highest density regions", The American Statistician 50(2)).

The HDR ``{x: p(x) >= c}`` is closed-form for a Gaussian model (a χ² ellipsoid). For other
models ``c`` is estimated as the ``1 - level`` quantile of ``model.log_prob`` over the model's own
samples, which is Hyndman's density-quantile estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.gaussian import (
    TAIL_HDR_LEVEL,
    gaussian_tail_coverage,
    tail_points,
)
from modelcollapse.metrics.functional.validation import (
    as_points,
    check_level,
    model_attr,
    model_moments,
)

# Model kinds whose HDR is taken in closed form from their moments (they *are* Gaussian).
GAUSSIAN_KINDS = frozenset({"gaussian"})


def hdr_threshold(log_probs: Any, level: float = TAIL_HDR_LEVEL) -> float:
    """Log-density threshold of the ``level`` HDR: the ``1 - level`` quantile of the model's
    log-density over its own samples."""
    level = check_level("level", level)
    lp = np.asarray(log_probs, dtype=np.float64).ravel()
    if lp.size == 0:
        raise DataError("samples: expected at least 1 model sample to estimate the HDR, got 0")
    if np.isnan(lp).any():
        raise DataError("model.log_prob(samples): expected log-densities, got NaN")
    return float(np.quantile(lp, 1.0 - level))


def tail_coverage(
    model: Any,
    reference: Any,
    heldout: Any,
    samples: Any = None,
    *,
    level: float = TAIL_HDR_LEVEL,
    q: float = 0.01,
) -> float:
    """Share of the held-out real tail points inside the model's ``level`` HDR.

    Scale: the tail points carry the outer ``2q`` (2%) of the real mass and the HDR leaves out
    ``1 - level`` (0.1%), so a model equal to the real distribution scores about
    ``(2q - (1 - level)) / 2q = 0.95``; a model with heavier tails scores more, and a collapsing
    model, whose HDR shrinks away from the real tails, falls towards 0. NaN when no held-out
    point lies in the reference's tails. ``samples`` (the model's own samples) are needed only
    for models whose kind is not Gaussian; with few samples their ``1 - level`` quantile is
    close to the sample minimum, so pass at least a few thousand for a stable estimate.
    """
    level = check_level("level", level)
    ref = as_points(reference, "reference")
    held = as_points(heldout, "heldout", min_rows=0)
    if held.shape[1] != ref.shape[1]:
        raise DataError(
            f"heldout: expected {ref.shape[1]} column(s) like the reference, got {held.shape[1]}"
        )
    tails = held[tail_points(ref, held, q)] if held.shape[0] else held
    if tails.shape[0] == 0:
        return float("nan")
    if getattr(model, "kind", None) in GAUSSIAN_KINDS:
        mean, cov = model_moments(model, "tail_coverage")
        return float(gaussian_tail_coverage(tails, mean, cov, level))
    log_prob = model_attr(model, "log_prob", "tail_coverage")
    if samples is None:
        raise DataError("tail_coverage: expected the model's samples to estimate its HDR, got None")
    threshold = hdr_threshold(log_prob(as_points(samples, "samples")), level)
    inside = np.asarray(log_prob(tails), dtype=np.float64) >= threshold
    return float(inside.mean())
