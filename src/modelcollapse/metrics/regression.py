"""Registered metrics for regression data (float arrays (n, d+1), last column the label)."""

from __future__ import annotations

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.regression import test_error as _test_error
from modelcollapse.metrics.registry import metric


@metric(
    "test_error",
    "regression",
    higher_is_better=False,
    needs_reference=True,
    citation=(
        "Dohmatob, Feng & Kempe 2024, Model collapse demystified: the case of regression; "
        "Gerstgrasser et al. 2024, Is model collapse inevitable?"
    ),
    description="excess risk ||w - w*||^2 (+ intercept^2) under the true model, else held-out MSE",
)
def test_error(ctx: MetricContext) -> float:
    return _test_error(ctx.model, ctx.heldout, ctx.truth)


test_error.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
