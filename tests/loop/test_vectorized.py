"""The vectorised Gaussian engine: same math as the Gaussian generator and the metric registry,
block streams independent of the number of replicates, and the collapse oracle."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.special import digamma, polygamma

from modelcollapse.data.sources import load_real
from modelcollapse.generators.gaussian import Gaussian
from modelcollapse.loop import gaussian_batch as gb
from modelcollapse.loop import vectorized
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment
from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.registry import compute


def _cfg(**over):
    raw = {
        "name": "vec",
        "seed": 4,
        "generations": 3,
        "replicates": 6,
        "samples_per_generation": 40,
        "data": {
            "source": "gaussian",
            "params": {"mean": 1.0, "std": 2.0, "n": 50, "n_heldout": 300},
        },
        "model": {"kind": "gaussian"},
        "policy": {"kind": "replace"},
    }
    raw.update(over)
    return parse_config(raw)


def _values(table, replicate=None):
    rows = table.to_pylist()
    return {
        (r["replicate"], r["generation"], r["metric"]): r["value"]
        for r in rows
        if replicate is None or r["replicate"] == replicate
    }


@pytest.mark.parametrize("estimator, reg", [("mle", 0.0), ("unbiased", 0.25)])
@pytest.mark.parametrize("d", [1, 3])
def test_batched_fit_and_sample_match_the_generator(estimator, reg, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 30, d)) * np.arange(1, d + 1)
    ddof = {"mle": 0, "unbiased": 1}[estimator]
    mean, cov = gb.fit(x, ddof, reg)
    for i in range(4):
        model = Gaussian(estimator=estimator, reg=reg, scale=0.7).fit(x[i])
        np.testing.assert_allclose(mean[i], model.mean_, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(cov[i], model.cov_, rtol=1e-13, atol=1e-15)
        # Same standard normals -> the same samples as Gaussian.sample.
        z = np.random.default_rng(i).standard_normal((1, 25, d))
        batch = gb.sample(mean[i : i + 1], gb.factor(cov[i : i + 1]), 0.7, z)[0]
        np.testing.assert_allclose(
            batch, model.sample(25, rng=np.random.default_rng(i)), rtol=1e-12, atol=1e-13
        )


def test_accumulated_statistics_match_fitting_on_the_pool():
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(3, n, 2)) + k for k, n in enumerate((50, 20, 20, 20))]
    stats = gb.stats_of(parts[0])
    for p in parts[1:]:
        stats = gb.merge(stats, gb.stats_of(p))
    mean, cov = gb.fit_from_stats(stats, 1, 0.0)
    for i in range(3):
        pool = np.concatenate([p[i] for p in parts])
        model = Gaussian(estimator="unbiased").fit(pool)
        np.testing.assert_allclose(mean[i], model.mean_, rtol=1e-12)
        np.testing.assert_allclose(cov[i], model.cov_, rtol=1e-11)


def test_singular_covariance_factor_is_per_replicate():
    cov = np.stack([np.eye(2), np.zeros((2, 2)), np.array([[1.0, 1.0], [1.0, 1.0]])])
    f = gb.factor(cov)
    np.testing.assert_allclose(f @ np.swapaxes(f, -1, -2), cov, atol=1e-12)
    np.testing.assert_array_equal(f[0], np.linalg.cholesky(np.eye(2)))


def _registry_metrics(engine, cfg, real0, r, names):
    """registry.compute on replicate r's model and real data, as the general engine would."""
    k, row = divmod(r, vectorized.BLOCK)
    b = min(vectorized.BLOCK, cfg.replicates - k * vectorized.BLOCK)
    train, held = vectorized.real_block(cfg, real0, k, b)
    model = Gaussian(**cfg.model.params).load_state_dict(
        {"mean_": engine.mean[r], "cov_": engine.cov[r]}
    )
    ctx = MetricContext(
        data_kind="numeric",
        model=model,
        samples=model.sample(50, rng=np.random.default_rng(0)),
        reference=np.array(train[row]),
        heldout=np.array(held[row]),
        truth=real0.truth,
        rng=np.random.default_rng(0),
    )
    return compute(names, ctx)


@pytest.mark.parametrize(
    "data, model",
    [
        (
            {"source": "gaussian", "params": {"mean": 1.0, "std": 2.0, "n": 50, "n_heldout": 300}},
            {},
        ),
        (
            {
                "source": "gaussian",
                "params": {"mean": [0.0, 1.0], "cov": [[2.0, 0.5], [0.5, 1.0]], "n": 40},
            },
            {"estimator": "unbiased", "scale": 0.8},
        ),
    ],
)
def test_batched_metrics_equal_registry(data, model):
    cfg = _cfg(data=data, model={"kind": "gaussian", "params": model}, replicates=5)
    real0 = load_real(cfg.data, seed=cfg.seed, replicate=0)
    names = sorted(gb.METRICS)
    engine = vectorized._Engine(cfg, real0, names)
    engine.start()
    for g in range(3):
        if g:
            engine.step(g)
        batched = engine.metrics()
        for r in range(cfg.replicates):
            ref = _registry_metrics(engine, cfg, real0, r, names)
            for j, name in enumerate(names):
                np.testing.assert_allclose(
                    batched[r, j], ref[name], rtol=1e-9, atol=1e-12, err_msg=f"{name} g={g} r={r}"
                )


def test_batched_metrics_equal_registry_on_a_dataset(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "points.npy"
    np.save(path, rng.normal(size=(400, 2)) @ np.array([[1.0, 0.3], [0.0, 0.5]]))
    cfg = _cfg(
        data={"source": "path", "params": {"path": str(path)}},
        model={"kind": "gaussian", "params": {"reg": 0.01}},
        replicates=3,
    )
    real0 = load_real(cfg.data, seed=cfg.seed, replicate=0)
    names = sorted(gb.METRICS)
    engine = vectorized._Engine(cfg, real0, names)
    engine.start()
    engine.step(1)
    batched = engine.metrics()
    for r in range(3):
        model = Gaussian(reg=0.01).load_state_dict({"mean_": engine.mean[r], "cov_": engine.cov[r]})
        ctx = MetricContext(
            "numeric", model, model.sample(10, rng=rng), real0.train, real0.heldout, None, rng
        )
        ref = compute(names, ctx)
        for j, name in enumerate(names):
            np.testing.assert_allclose(
                batched[r, j], ref[name], rtol=1e-9, atol=1e-12, err_msg=name
            )
    # generation 0 is the same fit for every replicate of a dataset
    engine.start()
    assert np.all(engine.mean == engine.mean[0])


def test_nll_of_a_singular_model_is_infinite():
    held_mean, held_cov = np.zeros((1, 2)), np.eye(2)[None]
    out = gb.nll_from_stats(
        np.zeros((2, 2)), np.stack([np.eye(2), np.diag([1.0, 0.0])]), held_mean, held_cov
    )
    assert np.isfinite(out[0]) and out[1] == np.inf
    one = gb.nll_from_stats(
        np.zeros((2, 1)), np.array([[[1.0]], [[0.0]]]), np.zeros((1, 1)), np.ones((1, 1, 1))
    )
    assert one[0] == pytest.approx(0.5 * (math.log(2 * math.pi) + 1.0)) and one[1] == np.inf


def test_engine_is_chosen_automatically(tmp_path):
    assert run_experiment(_cfg(), tmp_path / "a", progress=False).engine == "vectorized"
    general = [
        _cfg(policy={"kind": "filtered"}),
        _cfg(policy={"kind": "accumulate-subsample"}),
        _cfg(save_samples=True),
        _cfg(model={"kind": "kde"}),
    ]
    for i, cfg in enumerate(general):
        assert not vectorized.supports(cfg, "numeric", sorted(gb.METRICS)), i
    assert not vectorized.supports(_cfg(), "numeric", ["mean", "bogus"])


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(np.float64(a[k]), np.float64(b[k]), equal_nan=True) for k in a
    )


def test_replicate_trajectory_does_not_depend_on_the_number_of_replicates(tmp_path):
    small = run_experiment(_cfg(replicates=10), tmp_path / "small", progress=False)
    large = run_experiment(_cfg(replicates=2000), tmp_path / "large", progress=False)
    mid = run_experiment(_cfg(replicates=1600), tmp_path / "mid", progress=False)
    a, b = _values(small.metrics, 5), _values(large.metrics, 5)
    assert a and _same(a, b)
    # replicate 1500 sits in a partial last block in both runs
    assert _same(_values(large.metrics, 1500), _values(mid.metrics, 1500))
    # and replicates differ from each other
    assert (
        _values(small.metrics, 5)[(5, 3, "variance")]
        != _values(small.metrics, 4)[(4, 3, "variance")]
    )


@pytest.mark.parametrize("policy", ["replace", "accumulate", "fresh"])
def test_same_seed_same_parquet_and_checkpoint_per_generation(tmp_path, policy, same_table):
    cfg = _cfg(policy={"kind": policy})
    a = run_experiment(cfg, tmp_path / "a", progress=False)
    run_experiment(cfg, tmp_path / "b", progress=False)
    assert same_table(
        pq.read_table(tmp_path / "a" / "metrics.parquet"),
        pq.read_table(tmp_path / "b" / "metrics.parquet"),
    )
    assert (tmp_path / "a" / "metrics.parquet").read_bytes() == (
        tmp_path / "b" / "metrics.parquet"
    ).read_bytes()
    assert a.metrics.num_rows == cfg.replicates * (cfg.generations + 1) * 6
    names = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert names == [f"gen_{g:04d}.npz" for g in range(cfg.generations + 1)]
    other = run_experiment(cfg.model_copy(update={"seed": 5}), tmp_path / "c", progress=False)
    assert not same_table(other.metrics, a.metrics)


def test_fresh_zero_is_replace_and_fresh_one_does_not_collapse(tmp_path, same_table):
    base = {
        "generations": 20,
        "replicates": 2000,
        "samples_per_generation": 50,
        "data": {"source": "gaussian", "params": {"n": 50}},
    }
    rep = run_experiment(_cfg(**base), tmp_path / "r", progress=False)
    f0 = run_experiment(
        _cfg(**base, policy={"kind": "fresh", "params": {"lambda": 0.0}}),
        tmp_path / "f0",
        progress=False,
    )
    assert same_table(rep.metrics, f0.metrics)
    f1 = run_experiment(
        _cfg(**base, policy={"kind": "fresh", "params": {"lambda": 1.0}}),
        tmp_path / "f1",
        progress=False,
    )
    var = np.array(
        [v for (_, g, m), v in _values(f1.metrics).items() if g == 20 and m == "variance"]
    )
    # Each generation is an MLE fit on 50 fresh N(0, 1) points: E = 49/50, sd = sqrt(2*49)/50.
    se = math.sqrt(2 * 49) / 50 / math.sqrt(var.size)
    assert abs(var.mean() - 49 / 50) < 4 * se
    assert f1.summary["policy_counts_last_generation"]["n_fresh"] == 50


def test_accumulate_keeps_variance_while_replace_collapses(tmp_path):
    base = {
        "generations": 30,
        "replicates": 500,
        "samples_per_generation": 20,
        "data": {"source": "gaussian", "params": {"n": 20}},
    }
    rep = _values(run_experiment(_cfg(**base), tmp_path / "r", progress=False).metrics)
    acc_run = run_experiment(
        _cfg(**base, policy={"kind": "accumulate"}), tmp_path / "a", progress=False
    )
    acc = _values(acc_run.metrics)

    def med(vals):
        return float(
            np.median([v for (_, g, m), v in vals.items() if g == 30 and m == "variance_ratio"])
        )

    assert med(rep) < 0.35 < 0.7 < med(acc)
    assert acc_run.summary["policy_counts_last_generation"]["n_synthetic"] == 30 * 20


def test_gaussian_collapse_oracle(tmp_path):
    """E[ln variance_ratio_g] = g [ψ((M-1)/2) + ln(2/M)] (Shumailov et al. 2024), MLE, M = 100.

    variance_ratio divides by the real sample's ML variance, which is generation 0's variance,
    so ln ratio_g is a sum of g independent ln(χ²_{M-1}/M) terms with variance ψ'((M-1)/2) each.
    """
    m, reps, gens = 100, 2000, 50
    cfg = _cfg(
        generations=gens,
        replicates=reps,
        samples_per_generation=m,
        data={"source": "gaussian", "params": {"n": m}},
        metrics=["variance_ratio"],
        seed=123,
    )
    res = run_experiment(cfg, tmp_path / "run", progress=False)
    t = res.metrics
    gen = t.column("generation").to_numpy()
    val = t.column("value").to_numpy()
    assert np.all(val[gen == 0] == 1.0)
    for g in (1, 10, 25, 50):
        logs = np.log(val[gen == g])
        expected = g * (digamma((m - 1) / 2) + math.log(2 / m))
        se = math.sqrt(g * polygamma(1, (m - 1) / 2) / reps)
        assert abs(logs.mean() - expected) < 4 * se, (g, logs.mean(), expected, se)
        assert logs.var() == pytest.approx(g * polygamma(1, (m - 1) / 2), rel=0.15)


@pytest.mark.parametrize("policy", ["replace", "accumulate", "fresh"])
def test_generation_one_equals_the_general_path_on_the_same_data(policy):
    """Rebuild replicate r's generation-1 training set from the documented streams, fit it with
    the Gaussian generator and a general-path policy, and compare with the engine's state."""
    from modelcollapse.loop import policies
    from modelcollapse.rng import Role, block_stream

    params = {"estimator": "unbiased", "scale": 0.9, "reg": 0.05}
    pol = {"kind": policy, "params": {"lambda": 0.3}} if policy == "fresh" else {"kind": policy}
    data = {"source": "gaussian", "params": {"mean": [1.0, -1.0], "std": [1.0, 2.0], "n": 30}}
    cfg = _cfg(replicates=4, model={"kind": "gaussian", "params": params}, policy=pol, data=data)
    real0 = load_real(cfg.data, seed=cfg.seed, replicate=0)
    engine = vectorized._Engine(cfg, real0, sorted(gb.METRICS))
    engine.start()
    gen0 = (engine.mean.copy(), engine.cov.copy())
    engine.step(1)
    train, _ = vectorized.real_block(cfg, real0, 0, 4)
    m = cfg.samples_per_generation
    z = block_stream(cfg.seed, 0, 0, Role.SAMPLE).standard_normal((4, m, 2))
    for r in range(4):
        model0 = Gaussian(**params).fit(train[r])
        np.testing.assert_allclose(gen0[0][r], model0.mean_, rtol=1e-13)
        np.testing.assert_allclose(gen0[1][r], model0.cov_, rtol=1e-13)
        s0 = model0.mean_ + np.sqrt(0.9) * (z[r] @ np.linalg.cholesky(model0.cov_).T)
        if policy == "fresh":
            k = 12  # round(0.3 * 40)
            assert engine.k_fresh == k
            fresh = vectorized.draw_truth(
                engine.truth, block_stream(cfg.seed, 0, 1, Role.FRESH), 4, k
            )[r]
            training = np.concatenate([fresh, s0[: m - k]])
        else:
            ctx = policies.PolicyContext(m)
            training = (
                policies.build(policy)
                .compose(train[r], [s0], 1, np.random.default_rng(0), ctx=ctx)
                .data
            )
        model1 = Gaussian(**params).fit(training)
        np.testing.assert_allclose(engine.mean[r], model1.mean_, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(engine.cov[r], model1.cov_, rtol=1e-11, atol=1e-13)


def test_fresh_resamples_a_dataset_without_replacement(tmp_path):
    path = tmp_path / "points.npy"
    np.save(path, np.arange(200.0).reshape(100, 2))
    cfg = _cfg(
        data={"source": "path", "params": {"path": str(path), "heldout_fraction": 0.2}},
        policy={"kind": "fresh", "params": {"lambda": 0.5}},
        replicates=3,
    )
    real0 = load_real(cfg.data, seed=cfg.seed, replicate=0)
    engine = vectorized._Engine(cfg, real0, ["mean"])
    fresh = engine._fresh(0, 1, 3)
    assert fresh.shape == (3, 20, 2)
    pool = {tuple(row) for row in real0.train}
    for r in range(3):
        rows = [tuple(row) for row in fresh[r]]
        assert len(set(rows)) == 20 and set(rows) <= pool
    assert not np.array_equal(fresh[0], fresh[1])
    res = run_experiment(cfg, tmp_path / "run", progress=False)
    assert (
        res.engine == "vectorized" and res.summary["policy_counts_last_generation"]["n_fresh"] == 20
    )


def test_resume_of_a_finished_or_partial_vectorised_run(tmp_path, same_table):
    cfg = _cfg(policy={"kind": "accumulate"}, generations=6)
    full = run_experiment(cfg, tmp_path / "full", progress=False)
    again = run_experiment(cfg, tmp_path / "full", resume=True, progress=False)
    assert same_table(full.metrics, again.metrics)
    ckpt = tmp_path / "full" / "checkpoints"
    (ckpt / "gen_0004.npz").write_bytes(b"corrupt")  # everything from 4 on is recomputed
    (ckpt / "gen_0006.npz").unlink()
    part = run_experiment(cfg, tmp_path / "full", resume=True, progress=False)
    assert same_table(full.metrics, part.metrics)
    assert sorted(p.name for p in ckpt.iterdir()) == [f"gen_{g:04d}.npz" for g in range(7)]
