"""The Generator contract tester, run on every generator (see DESIGN.md, "Contracts").

Usage::

    check_generator(lambda: Gaussian(estimator="mle"), data)

``make`` builds a fresh, unfitted generator; ``data`` is training data of its ``data_kind``.
Each property is also a separate ``assert_*`` helper, so a generator-specific test can reuse one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from modelcollapse.errors import InvalidParameterError, NotFittedError
from modelcollapse.generators.base import Generator


def has_log_prob(gen: Generator) -> bool:
    """Whether the generator overrides the base ``log_prob`` (which raises NotImplementedError)."""
    return type(gen).log_prob is not Generator.log_prob


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def same(a: Any, b: Any) -> bool:
    """Exact equality of two samples of any data kind."""
    if isinstance(a, list) or isinstance(b, list):
        return list(a) == list(b)
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


def assert_sample_kind(gen: Generator, out: Any, n: int, n_features: int | None) -> None:
    """Sample shape/dtype for the generator's data kind (``n_features``: d of the training data)."""
    kind = gen.data_kind
    if kind == "text":
        assert isinstance(out, list), f"text sample: expected list, got {type(out).__name__}"
        assert len(out) == n and all(isinstance(s, str) for s in out)
        return
    assert isinstance(out, np.ndarray), f"expected ndarray, got {type(out).__name__}"
    if kind == "discrete":
        assert out.shape == (n,) and out.dtype == np.int64, (out.shape, out.dtype)
        assert n == 0 or out.min() >= 0
    else:  # numeric and regression keep the width of the training data
        assert out.dtype == np.float64, out.dtype
        assert out.shape == (n, n_features), (out.shape, (n, n_features))
        assert np.isfinite(out).all()


def assert_log_prob(gen: Generator, data: Any) -> np.ndarray:
    """One float per row, each finite or -inf (never NaN or +inf)."""
    lp = gen.log_prob(data)
    assert isinstance(lp, np.ndarray) and lp.dtype == np.float64, type(lp)
    assert lp.shape == (len(data),), lp.shape
    assert not np.isnan(lp).any() and not np.isposinf(lp).any(), lp
    return lp


def assert_unfitted_raises(gen: Generator, data: Any) -> None:
    assert not gen.is_fitted
    with pytest.raises(NotFittedError):
        gen.sample(3, rng=rng(0))
    if has_log_prob(gen):
        with pytest.raises(NotFittedError):
            gen.log_prob(data)
    with pytest.raises(NotFittedError):
        gen.state_dict()


def assert_bad_rng_and_n_raise(gen: Generator) -> None:
    for bad in (None, 0, 123, np.random.RandomState(0)):
        with pytest.raises(InvalidParameterError):
            gen.sample(3, rng=bad)
    for bad_n in (-1, 1.5, "3", True):
        with pytest.raises(InvalidParameterError):
            gen.sample(bad_n, rng=rng(0))


def _global_state_equal(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:])


def assert_state_roundtrip(gen: Generator, data: Any, n: int) -> None:
    """state_dict -> npz (no pickle) -> fresh clone: identical samples and log_prob."""
    state = gen.state_dict()
    assert isinstance(state, dict) and state
    for key, value in state.items():
        assert isinstance(value, np.ndarray), f"state[{key!r}] is {type(value).__name__}"
        assert value.dtype != object, f"state[{key!r}] has object dtype"
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    fresh = gen.clone()
    assert fresh.load_state_dict(loaded) is fresh
    assert same(fresh.sample(n, rng=rng(7)), gen.sample(n, rng=rng(7)))
    if has_log_prob(gen):
        np.testing.assert_array_equal(fresh.log_prob(data), gen.log_prob(data))


def assert_clone_independent(gen: Generator, n: int) -> None:
    before = gen.state_dict()
    twin = gen.clone()
    assert twin is not gen and type(twin) is type(gen)
    assert not twin.is_fitted
    assert twin.get_params() == gen.get_params()
    new_data = gen.sample(max(n, 20), rng=rng(99))
    assert twin.fit(new_data, rng=rng(5)) is twin
    after = gen.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=f"clone fit changed {key}")


def check_generator(
    make: Callable[[], Generator], data: Any, *, n: int = 64, fit_seed: int = 0
) -> Generator:
    """Run the whole contract on ``make()`` trained on ``data``; returns the fitted generator."""
    gen = make()
    assert isinstance(gen, Generator)
    assert isinstance(gen.kind, str) and gen.data_kind in (
        "numeric",
        "discrete",
        "text",
        "regression",
    )
    assert_unfitted_raises(gen, data)
    n_features = None if isinstance(data, list) else np.asarray(data).shape[-1]

    snapshot = data.copy() if hasattr(data, "copy") else list(data)
    global_before = np.random.get_state()
    assert gen.fit(data, rng=rng(fit_seed)) is gen, "fit must return self"
    assert gen.is_fitted
    out = gen.sample(n, rng=rng(1))
    lp = assert_log_prob(gen, data) if has_log_prob(gen) else None
    assert _global_state_equal(global_before, np.random.get_state()), "global np.random was used"
    assert same(data, snapshot), "fit modified its input data"

    assert_sample_kind(gen, out, n, n_features)
    assert_sample_kind(gen, gen.sample(0, rng=rng(1)), 0, n_features)
    assert same(out, gen.sample(n, rng=rng(1))), "same rng seed gave different samples"
    assert not same(out, gen.sample(n, rng=rng(2))), "different rng seeds gave identical samples"
    if lp is not None:
        np.testing.assert_array_equal(lp, gen.log_prob(data))  # log_prob is deterministic
        assert_log_prob(gen, out)

    refit = make().fit(data, rng=rng(fit_seed))  # fitting is reproducible given the rng
    assert same(refit.sample(n, rng=rng(3)), gen.sample(n, rng=rng(3)))

    assert_bad_rng_and_n_raise(gen)
    assert_clone_independent(gen, n)
    assert_state_roundtrip(gen, data, n)
    return gen
