"""Property tests: any input either validates cleanly or raises a typed error, never a raw crash."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.categorical import Categorical
from modelcollapse.generators.gaussian import Gaussian
from modelcollapse.generators.gmm import GaussianMixture
from modelcollapse.generators.kde import KDE
from modelcollapse.generators.linear import LinearRegression
from modelcollapse.generators.validation import check_discrete, check_numeric

TYPED = (DataError, InvalidParameterError)

float_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    elements={"allow_nan": True, "allow_infinity": True},
)
# Floats of any magnitude, including NaN, inf and values whose sums overflow.
wild_floats = hnp.arrays(
    np.float64,
    st.tuples(st.integers(0, 8), st.integers(1, 3)),
    elements=st.floats(allow_nan=True, allow_infinity=True),
)
junk = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.lists(st.one_of(st.integers(), st.text(max_size=2), st.floats(), st.none()), max_size=4),
    st.lists(st.lists(st.floats(), max_size=3), max_size=4),
)


@given(float_arrays)
def test_check_numeric_returns_clean_array_or_data_error(arr: np.ndarray) -> None:
    try:
        out = check_numeric(arr)
    except DataError:
        return
    assert out.dtype == np.float64 and out.ndim == 2 and out.shape[0] >= 1
    assert np.isfinite(out).all()


@given(junk)
def test_junk_gives_data_error_or_a_clean_array(value: object) -> None:
    for check, ndim in ((check_numeric, 2), (check_discrete, 1)):
        try:
            out = check(value)
        except DataError:
            continue
        assert out.ndim == ndim and out.dtype.kind in "if" and np.isfinite(out).all()


@given(float_arrays, st.one_of(st.none(), st.integers(1, 20)))
def test_check_discrete_returns_valid_indices_or_data_error(arr: np.ndarray, k: int | None) -> None:
    try:
        out = check_discrete(arr, n_categories=k)
    except DataError:
        return
    assert out.dtype == np.int64 and out.ndim == 1 and out.size >= 1
    assert out.min() >= 0 and (k is None or out.max() < k)


FACTORIES = {
    "gaussian": lambda: Gaussian(),
    "gaussian-unbiased": lambda: Gaussian(estimator="unbiased"),
    "kde": lambda: KDE(),
    "linear": lambda: LinearRegression(),
    "gmm": lambda: GaussianMixture(n_components=2, max_iter=5),
}


@pytest.mark.parametrize("name", list(FACTORIES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=wild_floats)
def test_numeric_generators_fit_cleanly_or_raise_typed(name: str, data: np.ndarray) -> None:
    gen = FACTORIES[name]()
    try:
        gen.fit(data, rng=np.random.default_rng(0))
    except TYPED:
        return
    s = gen.sample(5, rng=np.random.default_rng(1))
    assert np.isfinite(s).all(), "a fit that succeeds must give a usable model"
    try:
        lp = gen.log_prob(data)
    except TYPED:
        return
    assert not np.isnan(lp).any()


# Labels are small or far beyond the dense-support cap (no slow near-cap allocations).
labels = st.one_of(st.integers(-3, 60), st.integers(2**30, 2**62))


@settings(deadline=None)
@given(st.lists(labels, max_size=20), st.one_of(st.none(), st.integers(1, 50)))
def test_categorical_fits_cleanly_or_raises_typed(values: list[int], k: int | None) -> None:
    try:
        c = Categorical(n_categories=k).fit(values)
    except TYPED:
        return
    assert np.isclose(c.probs_.sum(), 1.0)
    assert c.probs_.shape[0] == (k if k is not None else max(values) + 1)


FITTED = {
    name: make().fit(np.random.default_rng(3).normal(size=(30, 2)), rng=np.random.default_rng(0))
    for name, make in FACTORIES.items()
}


@pytest.mark.parametrize("name", list(FITTED))
@settings(max_examples=60, deadline=None)
@given(query=hnp.arrays(np.float64, st.tuples(st.integers(0, 5), st.just(2)), elements=st.floats()))
def test_log_prob_of_extreme_queries_is_never_nan(name: str, query: np.ndarray) -> None:
    try:
        lp = FITTED[name].log_prob(query)
    except DataError as exc:  # NaN/inf in the query, or values too large to evaluate
        assert not np.isfinite(query).all() or "overflow" in str(exc)
        return
    assert lp.shape == (len(query),) and not np.isnan(lp).any() and not np.isposinf(lp).any()


STATEFUL = {
    **FITTED,
    "categorical": Categorical().fit([0, 1, 1, 2]),
    "linear-d3": LinearRegression().fit(np.random.default_rng(4).normal(size=(10, 4))),
}


@pytest.mark.parametrize("name", list(STATEFUL))
def test_corrupt_state_raises_data_error(name: str) -> None:
    gen = STATEFUL[name]
    state = gen.state_dict()
    for key in state:
        with pytest.raises(DataError, match=key):
            gen.clone().load_state_dict({k: v for k, v in state.items() if k != key})
        with pytest.raises(DataError):
            gen.clone().load_state_dict({**state, key: np.array(["x"] * 3)})
        with pytest.raises(DataError):
            gen.clone().load_state_dict({**state, key: np.zeros((2, 3, 4, 5))})
