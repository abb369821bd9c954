"""Metric registry keyed by (name, data kind), in the style of lm-evaluation-harness registries.

Each entry records whether higher is better, whether it needs real reference data, the data kind
it accepts and a citation (DESIGN "Metric"). Unknown names raise InvalidParameterError with a
"did you mean" suggestion. The built-in metrics register themselves from ``metrics/numeric.py``,
``discrete.py``, ``text.py`` and ``regression.py``, loaded on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelcollapse.errors import InvalidParameterError, did_you_mean, unknown_name
from modelcollapse.metrics.context import DATA_KINDS, MetricContext


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: ``fn(ctx) -> float`` and what a report needs to know about it."""

    name: str
    data_kind: str
    fn: Callable[[MetricContext], float]
    higher_is_better: bool | None
    needs_reference: bool
    citation: str
    description: str
    # Which collapse signal the metric is, for the verdict of ``measure`` (see
    # modelcollapse.measure.verdict): "tail" (early collapse), "spread", "diversity",
    # "repetition" or "fidelity" (late collapse); None = descriptive, not used by the verdict.
    role: str | None = None
    # True when one evaluation refits a model or is super-linear in the data: ``measure``
    # bootstraps such metrics with fewer replicates (its ``n_boot_expensive``).
    expensive: bool = False


ROLES: tuple[str, ...] = ("tail", "spread", "diversity", "repetition", "fidelity")

_REGISTRY: dict[tuple[str, str], MetricSpec] = {}
_DEFAULTS: dict[str, list[str]] = {}


def _check_kind(data_kind: str) -> str:
    if data_kind not in DATA_KINDS:
        raise InvalidParameterError(
            f"data kind: expected one of {', '.join(DATA_KINDS)}, got {data_kind!r}"
            f"{did_you_mean(str(data_kind), DATA_KINDS)}"
        )
    return data_kind


def register(spec: MetricSpec, *, default: bool = False) -> MetricSpec:
    """Add ``spec`` to the registry; ``default=True`` also lists it in :func:`default_metrics`."""
    _check_kind(spec.data_kind)
    if spec.role is not None and spec.role not in ROLES:
        raise InvalidParameterError(
            f"role of metric {spec.name!r}: expected one of {', '.join(ROLES)} or None, "
            f"got {spec.role!r}{did_you_mean(str(spec.role), ROLES)}"
        )
    _REGISTRY[(spec.name, spec.data_kind)] = spec
    if default and spec.name not in _DEFAULTS.setdefault(spec.data_kind, []):
        _DEFAULTS[spec.data_kind].append(spec.name)
    return spec


def metric(
    name: str,
    data_kind: str,
    *,
    higher_is_better: bool | None,
    needs_reference: bool,
    citation: str,
    description: str,
    default: bool = True,
    role: str | None = None,
    expensive: bool = False,
) -> Callable[[Callable[[MetricContext], float]], Callable[[MetricContext], float]]:
    """Decorator form of :func:`register` for a function ``fn(ctx) -> float``."""

    def decorate(fn: Callable[[MetricContext], float]) -> Callable[[MetricContext], float]:
        spec = MetricSpec(
            name, data_kind, fn, higher_is_better, needs_reference, citation, description,
            role, expensive,
        )  # fmt: skip
        register(spec, default=default)
        return fn

    return decorate


def _load_builtins() -> None:
    # Importing the modules runs their @metric decorators.
    from modelcollapse.metrics import (  # noqa: F401
        discrete,
        numeric,
        numeric_measure,
        regression,
        text,
    )


def get(name: str, data_kind: str) -> MetricSpec:
    """The spec registered under ``(name, data_kind)``."""
    _load_builtins()
    _check_kind(data_kind)
    spec = _REGISTRY.get((name, data_kind))
    if spec is not None:
        return spec
    elsewhere = sorted(k for n, k in _REGISTRY if n == name)
    if elsewhere:
        raise InvalidParameterError(
            f"metric {name!r} is not defined for {data_kind} data (it is for "
            f"{', '.join(elsewhere)}); expected one of {', '.join(available(data_kind))}"
        )
    raise unknown_name(f"metric for {data_kind} data", name, available(data_kind))


def available(data_kind: str | None = None) -> list[str]:
    """Sorted metric names, for one data kind or all of them."""
    _load_builtins()
    if data_kind is not None:
        _check_kind(data_kind)
    return sorted({n for n, k in _REGISTRY if data_kind is None or k == data_kind})


def default_metrics(data_kind: str) -> list[str]:
    """The metrics a run computes when its config names none."""
    _load_builtins()
    return list(_DEFAULTS.get(_check_kind(data_kind), []))


def compute(names: list[str], ctx: MetricContext) -> dict[str, float]:
    """Evaluate the named metrics on ``ctx``; every name is checked before any is computed."""
    if isinstance(names, str):
        raise InvalidParameterError(f"metrics: expected a list of names, got the string {names!r}")
    specs = [get(name, ctx.data_kind) for name in names]
    return {spec.name: float(spec.fn(ctx)) for spec in specs}
