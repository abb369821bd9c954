"""Policies on plain arrays and text: which data enters, sizes and provenance counts."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.loop import policies
from modelcollapse.loop.policies import PolicyContext


class _Reference:
    """A stand-in reference model whose log-likelihood is minus the first column."""

    def log_prob(self, data):
        return -np.asarray(data, dtype=np.float64)[:, 0]


def _marked(value: float, n: int) -> np.ndarray:
    # Each data set carries its own constant in column 1, so the rows' origin is visible.
    return np.column_stack([np.arange(n, dtype=np.float64), np.full(n, value)])


REAL = _marked(-1.0, 30)
HISTORY = [_marked(float(g), 20) for g in range(3)]  # synthetic sets of generations 0, 1, 2


def _fresh_source(n: int, rng: np.random.Generator) -> np.ndarray:
    return _marked(99.0, n)


def _ctx(n: int = 20, **kw) -> PolicyContext:
    return PolicyContext(
        samples_per_generation=n,
        fresh_source=_fresh_source,
        fresh_rng=np.random.default_rng(1),
        **kw,
    )


def _origins(data: np.ndarray) -> dict[float, int]:
    values, counts = np.unique(data[:, 1], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def test_registry_lists_policies_and_suggests_names():
    assert policies.available() == [
        "accumulate",
        "accumulate-subsample",
        "filtered",
        "fresh",
        "replace",
    ]
    with pytest.raises(InvalidParameterError, match="did you mean 'accumulate'"):
        policies.build("acumulate")
    with pytest.raises(InvalidParameterError, match="did you mean 'lambda'"):
        policies.build("fresh", {"lamda": 0.2})
    with pytest.raises(InvalidParameterError, match="no parameters"):
        policies.build("replace", {"x": 1})


def test_replace_uses_only_the_last_synthetic_set():
    comp = policies.build("replace").compose(REAL, HISTORY, 3, np.random.default_rng(0), ctx=_ctx())
    assert comp.data is HISTORY[-1]
    assert comp.counts == {"n_real": 0, "n_synthetic": 20, "n_fresh": 0, "n_train": 20}


def test_accumulate_grows_with_every_generation():
    pol = policies.build("accumulate")
    sizes = []
    for g in range(1, 4):
        comp = pol.compose(REAL, HISTORY[:g], g, np.random.default_rng(0), ctx=_ctx())
        sizes.append(len(comp.data))
        assert _origins(comp.data) == {-1.0: 30, **{float(i): 20 for i in range(g)}}
        assert comp.counts["n_real"] == 30 and comp.counts["n_synthetic"] == 20 * g
        np.testing.assert_array_equal(comp.data[:30], REAL)  # real data first, unchanged
    assert sizes == [50, 70, 90]


def test_accumulate_subsample_respects_budget_without_replacement():
    pol = policies.build("accumulate-subsample")
    comp = pol.compose(REAL, HISTORY, 3, np.random.default_rng(0), ctx=_ctx())
    assert len(comp.data) == 30  # default budget = len(real)
    assert comp.counts["n_real"] + comp.counts["n_synthetic"] == 30
    assert comp.counts["n_real"] == _origins(comp.data).get(-1.0, 0)
    rows = {tuple(r) for r in comp.data}
    assert len(rows) == 30  # all rows of the pool are distinct, so no row was drawn twice
    big = policies.build("accumulate-subsample", {"budget": 1000})
    assert len(big.compose(REAL, HISTORY, 3, np.random.default_rng(0), ctx=_ctx()).data) == 90
    with pytest.raises(InvalidParameterError, match="budget"):
        policies.build("accumulate-subsample", {"budget": 0})


def test_accumulate_subsample_is_uniform_over_the_pool():
    pol = policies.build("accumulate-subsample", {"budget": 45})
    rng = np.random.default_rng(5)
    n_real = [pol.compose(REAL, HISTORY, 3, rng, ctx=_ctx()).counts["n_real"] for _ in range(400)]
    # Hypergeometric: 45 of 90 rows, 30 real -> mean 15, sd ~ 2.5; mean over 400 draws sd ~ 0.13.
    assert abs(np.mean(n_real) - 15.0) < 0.6


@pytest.mark.parametrize("lam, k", [(0.0, 0), (0.1, 2), (0.25, 5), (0.5, 10), (1.0, 20)])
def test_fresh_mixes_round_lambda_n_fresh_points(lam, k):
    pol = policies.build("fresh", {"lambda": lam})
    comp = pol.compose(REAL, HISTORY, 3, np.random.default_rng(0), ctx=_ctx(20))
    assert len(comp.data) == 20
    origins = _origins(comp.data)
    assert origins.get(99.0, 0) == k and origins.get(2.0, 0) == 20 - k
    assert set(origins) <= {99.0, 2.0}  # only fresh data and the last synthetic set
    assert comp.counts == {"n_real": 0, "n_synthetic": 20 - k, "n_fresh": k, "n_train": 20}


def test_fresh_rounds_halves_up_and_validates_lambda():
    from modelcollapse.loop.policies.fresh import n_fresh

    assert n_fresh(0.5, 5) == 3 and n_fresh(0.1, 100) == 10 and n_fresh(0.125, 4) == 1
    for bad in (-0.1, 1.5, "x", True):
        with pytest.raises(InvalidParameterError, match="lambda"):
            policies.build("fresh", {"lambda": bad})


def test_fresh_uses_the_context_stream():
    seen = []

    def source(n, rng):
        seen.append(rng)
        return _marked(99.0, n)

    rng = np.random.default_rng(3)
    ctx = PolicyContext(samples_per_generation=20, fresh_source=source, fresh_rng=rng)
    policies.build("fresh", {"lambda": 0.5}).compose(
        REAL, HISTORY, 1, np.random.default_rng(0), ctx=ctx
    )
    assert seen == [rng]
    with pytest.raises(InvalidParameterError, match="fresh_source"):
        policies.build("fresh").compose(
            REAL, HISTORY, 1, np.random.default_rng(0), ctx=PolicyContext(20)
        )


def test_filtered_likelihood_keeps_top_fraction():
    pol = policies.build("filtered", {"selector": "likelihood", "keep": 0.75})
    samples = np.column_stack([np.array([5.0, 1.0, 3.0, 0.0, 4.0, 2.0, 7.0, 6.0]), np.zeros(8)])
    adm = pol.admit(samples, 0, ctx=_ctx(reference_model=_Reference()))
    # score = -x: the 6 highest scores are the 6 smallest x, kept in their original order
    np.testing.assert_array_equal(adm.data[:, 0], [5.0, 1.0, 3.0, 0.0, 4.0, 2.0])
    assert adm.counts == {"n_kept": 6, "n_rejected": 2}


def test_filtered_threshold_and_base_accumulate():
    pol = policies.build(
        "filtered", {"selector": "threshold", "min_log_prob": -2.5, "base": "accumulate"}
    )
    ctx = _ctx(reference_model=_Reference())
    s0 = np.column_stack([np.arange(5.0), np.zeros(5)])
    adm = pol.admit(s0, 0, ctx=ctx)
    np.testing.assert_array_equal(adm.data[:, 0], [0.0, 1.0, 2.0])
    assert adm.counts["n_rejected"] == 2
    comp = pol.compose(REAL, [adm.data], 1, np.random.default_rng(0), ctx=ctx)
    assert len(comp.data) == 33 and comp.counts["n_real"] == 30 and comp.counts["n_synthetic"] == 3


def test_filtered_text_and_empty_result():
    class TextRef:
        def log_prob(self, docs):
            return np.array([-len(d) for d in docs], dtype=np.float64)

    pol = policies.build("filtered", {"selector": "threshold", "min_log_prob": -3})
    ctx = _ctx(reference_model=TextRef())
    adm = pol.admit(["a", "abcd", "abc", "abcdef"], 0, ctx=ctx)
    assert adm.data == ["a", "abc"] and adm.counts["n_rejected"] == 2
    none = pol.admit(["abcdefg"], 0, ctx=ctx)
    assert none.data == [] and none.counts["n_rejected"] == 1
    with pytest.raises(DataError, match="rejected every synthetic sample"):
        pol.compose(["real"], [none.data], 1, np.random.default_rng(0), ctx=ctx)


def test_filtered_validates_params():
    with pytest.raises(InvalidParameterError, match="selector"):
        policies.build("filtered", {"selector": "quality"})
    with pytest.raises(InvalidParameterError, match="min_log_prob"):
        policies.build("filtered", {"selector": "threshold"})
    with pytest.raises(InvalidParameterError, match="keep"):
        policies.build("filtered", {"keep": 0.0})
    with pytest.raises(InvalidParameterError, match="base"):
        policies.build("filtered", {"base": "fresh"})
    with pytest.raises(InvalidParameterError, match="reference model"):
        policies.build("filtered").admit(np.zeros((3, 1)), 0, ctx=PolicyContext(3))


def test_compose_refuses_generation_zero_and_empty_history():
    for kind in ("replace", "accumulate", "fresh"):
        with pytest.raises(InvalidParameterError, match="generation >= 1"):
            policies.build(kind).compose(REAL, HISTORY, 0, np.random.default_rng(0), ctx=_ctx())
        with pytest.raises(InvalidParameterError, match="at least one synthetic set"):
            policies.build(kind).compose(REAL, [], 1, np.random.default_rng(0), ctx=_ctx())


def test_policies_work_on_text():
    real, hist = ["r1", "r2"], [["s0a", "s0b"], ["s1a", "s1b", "s1c"]]
    ctx = PolicyContext(
        3,
        fresh_source=lambda n, rng: [f"f{i}" for i in range(n)],
        fresh_rng=np.random.default_rng(0),
    )
    rng = np.random.default_rng(0)
    assert policies.build("replace").compose(real, hist, 2, rng, ctx=ctx).data == hist[-1]
    assert (
        policies.build("accumulate").compose(real, hist, 2, rng, ctx=ctx).data
        == real + hist[0] + hist[1]
    )
    mixed = policies.build("fresh", {"lambda": 1 / 3}).compose(real, hist, 2, rng, ctx=ctx).data
    assert (
        mixed[0] == "f0"
        and sorted(mixed[1:]) == sorted(set(mixed[1:]))
        and set(mixed[1:]) <= set(hist[-1])
    )
    sub = (
        policies.build("accumulate-subsample", {"budget": 4})
        .compose(real, hist, 2, rng, ctx=ctx)
        .data
    )
    assert len(sub) == 4 and set(sub) <= set(real + hist[0] + hist[1])
