"""The VAE generator: contract, likelihood bound, moments, checkpoints, warm start, collapse."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the vae generator needs the torch extra")

from modelcollapse.data.bundled import digits_split  # noqa: E402
from modelcollapse.errors import DataError, InvalidParameterError  # noqa: E402
from modelcollapse.generators.vae import VAE  # noqa: E402
from tests.common.contract import check_generator, rng  # noqa: E402

TINY = {"latent_dim": 2, "hidden": [16], "epochs": 5, "batch_size": 32, "threads": 1}
SMALL = {"latent_dim": 4, "hidden": [64], "epochs": 60, "batch_size": 64, "threads": 1}


def gaussian_2d(n: int = 400) -> np.ndarray:
    """Correlated 2-D Gaussian far from the origin and unit scale (tests the standardisation)."""
    g = np.random.default_rng(3)
    return g.normal(size=(n, 2)) @ np.array([[2.0, 0.0], [1.2, 0.5]]) + np.array([5.0, -1.0])


@pytest.fixture(scope="module")
def digits300() -> np.ndarray:
    x = np.array(digits_split()[0].X)
    return x[np.random.default_rng(0).choice(len(x), 300, replace=False)]


@pytest.fixture(scope="module")
def digits_model(digits300: np.ndarray) -> VAE:
    return VAE(**SMALL).fit(digits300, rng=rng(0))


@pytest.fixture(scope="module")
def gauss_model() -> VAE:
    return VAE(latent_dim=2, hidden=[32], epochs=100, batch_size=64, threads=1).fit(
        gaussian_2d(), rng=rng(0)
    )


@pytest.mark.parametrize(
    "params",
    [TINY, {**TINY, "hidden": [], "sample_noise": False}, {**TINY, "hidden": 8, "iw_samples": 3}],
    ids=["mlp", "linear-means", "int-hidden"],
)
def test_contract(params: dict) -> None:
    check_generator(lambda: VAE(**params), gaussian_2d(100) @ np.ones((2, 3)) + np.arange(3))


def test_registered() -> None:
    from modelcollapse.generators import registry

    assert registry.get("vae") is VAE and VAE.data_kind == "numeric"


def test_learns_gaussian_moments(gauss_model: VAE) -> None:
    x = gaussian_2d()
    mean, cov = gauss_model.moments()
    sd = x.std(axis=0)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=0.1 * sd.max())
    np.testing.assert_allclose(cov, np.cov(x.T), rtol=0.15, atol=0.03)
    # moments() is the law of total covariance of what sample() draws
    s = gauss_model.sample(20_000, rng=rng(1))
    np.testing.assert_allclose(s.mean(axis=0), mean, atol=0.03 * sd.max())
    np.testing.assert_allclose(np.cov(s.T), cov, rtol=0.05, atol=0.01)
    assert np.array_equal(gauss_model.moments()[1], cov)  # fixed-seed estimate: deterministic
    # without observation noise the model's spread is that of the decoder means only
    means_only = gauss_model.clone().set_params(sample_noise=False)
    means_only.load_state_dict(gauss_model.state_dict())
    assert np.trace(means_only.moments()[1]) < np.trace(cov)


def test_log_prob_close_to_gaussian_likelihood(gauss_model: VAE) -> None:
    """A Gaussian is in the model class: the bound should nearly reach the MLE Gaussian's."""
    x = gaussian_2d()
    c = np.cov(x.T, ddof=0)
    z = np.linalg.solve(np.linalg.cholesky(c), (x - x.mean(0)).T)
    exact = -0.5 * (z**2).sum(0) - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1]
    assert abs(gauss_model.log_prob(x).mean() - exact.mean()) < 0.1


def test_log_prob_matches_quadrature_with_1d_latent() -> None:
    """With L = 1, p(x) = int N(u; f(z), s^2) N(z) dz / prod(std_) is a 1-D integral. On a noisy
    circle arc (curved, so the latent is used), a large K reaches it (Burda et al. 2016) and the
    error shrinks with K; the data sit far from 0 at scale 30 to exercise the log-Jacobian."""
    g = np.random.default_rng(5)
    t = g.uniform(-2.5, 2.5, 300)
    x = 30 * np.column_stack([np.cos(t), np.sin(t)]) + g.normal(scale=3, size=(300, 2)) + 100
    vae = VAE(latent_dim=1, hidden=[32], epochs=200, batch_size=32, lr=3e-3, threads=1)
    vae.fit(x, rng=rng(4))
    s = np.exp(vae.net_.log_std.double().numpy())
    assert s.min() < 0.5  # the latent explains part of the data
    rows = x[:20]
    grid = np.linspace(-9, 9, 6001)
    with torch.no_grad():
        f = vae.net_.decoder(torch.as_tensor(grid[:, None], dtype=torch.float32)).double().numpy()
    u = (rows - vae.mean_) / vae.std_
    log_terms = (
        -0.5 * (((u[:, None, :] - f[None]) / s) ** 2).sum(-1)
        - np.log(s).sum()
        - np.log(2 * np.pi)  # the two 1/sqrt(2 pi) of p(u|z)
        - 0.5 * grid**2
        - 0.5 * np.log(2 * np.pi)  # p(z)
    )
    peak = log_terms.max(1, keepdims=True)
    exact = np.log(np.exp(log_terms - peak).sum(1) * (grid[1] - grid[0])) + peak[:, 0]
    exact -= np.log(vae.std_).sum()
    errors = {}
    for k in (1, 4096):
        vae.iw_samples = k
        errors[k] = vae.log_prob(rows) - exact
    assert np.abs(errors[4096]).max() < 0.1 and errors[4096].mean() < 0.01, errors[4096]
    assert np.abs(errors[4096]).mean() < 0.5 * np.abs(errors[1]).mean()


def test_iw_bound_increases_with_k(digits_model: VAE, digits300: np.ndarray) -> None:
    vae = digits_model.clone().load_state_dict(digits_model.state_dict())
    means = {}
    for k in (1, 8, 64):
        vae.iw_samples = k
        means[k] = vae.log_prob(digits300).mean()
    assert means[1] < means[8] < means[64], means


def test_log_prob_scale_and_far_points(gauss_model: VAE) -> None:
    x = gaussian_2d()
    lp = gauss_model.log_prob(x)
    assert lp.dtype == np.float64 and lp.shape == (len(x),)
    assert gauss_model.log_prob(x[:0]).shape == (0,)
    far = x + 10 * x.std(axis=0)
    assert gauss_model.log_prob(far).max() < lp.min()
    # rescaling the data shifts the density by exactly the log-Jacobian
    a, b = 1000.0, -7.0
    scaled = VAE(**TINY).fit(a * x + b, rng=rng(2))
    plain = VAE(**TINY).fit(x, rng=rng(2))
    np.testing.assert_allclose(
        scaled.log_prob(a * x + b), plain.log_prob(x) - 2 * np.log(a), rtol=0, atol=1e-3
    )


def test_latent_spread_tracks_diversity(digits_model: VAE, digits300: np.ndarray) -> None:
    spread = digits_model.latent_spread(digits300)
    assert 0.3 < spread < 2.0
    shrunk = digits300.mean(0) + 0.2 * (digits300 - digits300.mean(0))
    assert digits_model.latent_spread(shrunk) < 0.5 * spread


def test_state_dict_roundtrip_and_bad_states(digits_model: VAE, digits300: np.ndarray) -> None:
    state = digits_model.state_dict()
    assert all(v.dtype != object for v in state.values())
    twin = VAE(**SMALL).load_state_dict(state)
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
    np.testing.assert_array_equal(twin.moments()[1], digits_model.moments()[1])
    assert twin.latent_spread(digits300) == digits_model.latent_spread(digits300)
    with pytest.raises(DataError, match="latent_dim"):
        VAE(**{**SMALL, "latent_dim": 3}).load_state_dict(state)
    with pytest.raises(DataError, match="missing"):
        VAE(**SMALL).load_state_dict({k: v for k, v in state.items() if k != "std_"})
    bad = dict(state)
    bad["net.encoder.0.weight"] = bad["net.encoder.0.weight"][:, :5]
    with pytest.raises(DataError, match="architecture"):
        VAE(**SMALL).load_state_dict(bad)
    with pytest.raises(DataError, match="finite weights"):
        VAE(**SMALL).load_state_dict({**state, "net.log_std": state["net.log_std"] * np.nan})
    with pytest.raises(DataError, match="std_"):
        VAE(**SMALL).load_state_dict({**state, "std_": -state["std_"]})


def test_warm_start_continues_from_loaded_weights(digits_model: VAE, digits300: np.ndarray) -> None:
    one_epoch = {**SMALL, "epochs": 1}
    fresh = VAE(**one_epoch).fit(digits300, rng=rng(5))
    warm = VAE(**one_epoch, warm_start=True).load_state_dict(digits_model.state_dict())
    warm.fit(digits300[:200], rng=rng(5))
    # it starts from a trained model, far below a fresh start's loss
    assert warm.loss_history_[0] < fresh.loss_history_[0] - 20
    np.testing.assert_array_equal(warm.mean_, digits_model.mean_)  # standardisation kept
    assert not np.array_equal(warm.mean_, digits300[:200].mean(axis=0))
    # without warm_start a loaded model is re-initialised: identical to a fresh fit
    cold = VAE(**one_epoch).load_state_dict(digits_model.state_dict()).fit(digits300, rng=rng(5))
    for key, value in cold.state_dict().items():
        np.testing.assert_array_equal(value, fresh.state_dict()[key])
    with pytest.raises(DataError, match="columns"):
        warm.fit(digits300[:, :10], rng=rng(0))


def test_randomness_is_explicit() -> None:
    x = gaussian_2d(100)
    with pytest.raises(InvalidParameterError, match="rng"):
        VAE(**TINY).fit(x)
    before = torch.random.get_rng_state()
    vae = VAE(**TINY).fit(x, rng=rng(0))
    vae.sample(10, rng=rng(1))
    vae.log_prob(x)
    vae.moments()
    assert torch.equal(before, torch.random.get_rng_state()), "global torch RNG was used"


@pytest.mark.parametrize(
    "params",
    [
        {"latent_dim": 0},
        {"hidden": "64"},
        {"hidden": [32, 0]},
        {"epochs": 0},
        {"batch_size": -1},
        {"lr": 0.0},
        {"min_std": 0.0},
        {"sample_noise": "yes"},
        {"warm_start": 1},
        {"threads": 0},
        {"device": "no-such-device"},
    ],
)
def test_bad_hyperparameters(params: dict) -> None:
    with pytest.raises(InvalidParameterError):
        VAE(**{**TINY, **params}).fit(gaussian_2d(50), rng=rng(0))


def test_bad_data_and_iw_samples(gauss_model: VAE) -> None:
    with pytest.raises(DataError):
        VAE(**TINY).fit(np.array([[1.0, np.nan]]), rng=rng(0))
    with pytest.raises(DataError, match="column"):
        gauss_model.log_prob(np.zeros((3, 5)))
    with pytest.raises(InvalidParameterError):
        gauss_model.clone().load_state_dict(gauss_model.state_dict()).set_params(
            iw_samples=0
        ).log_prob(gaussian_2d(5))


def test_importable_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from modelcollapse.errors import MissingExtraError\n"
        "from modelcollapse.generators.vae import VAE\n"
        "try:\n"
        "    VAE().fit(np.zeros((4, 2)), rng=np.random.default_rng(0))\n"
        "except MissingExtraError as e:\n"
        "    assert 'modelcollapse[torch]' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no MissingExtraError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_replace_loop_shrinks_sample_variance(digits300: np.ndarray) -> None:
    """Shumailov et al. 2024 (VAE experiment) at toy scale: fit, sample 300, refit on the
    samples. The total variance (trace of the covariance) of the samples falls generation
    after generation; benchmarks/vae_digits.py shows it over 10 generations at full size."""
    g = np.random.default_rng(1)
    data, total_variance = digits300, []
    for _ in range(4):
        vae = VAE(**{**SMALL, "epochs": 100}).fit(data, rng=g)
        data = vae.sample(len(digits300), rng=g)
        total_variance.append(data.var(axis=0).sum())
    assert total_variance[-1] < 0.9 * total_variance[0], total_variance
