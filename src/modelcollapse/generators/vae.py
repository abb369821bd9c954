"""Variational autoencoder for vectors and small images (e.g. the bundled 8x8 digits).

Model (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"), on standardised data
``u = (x - mean_) / std_``:

- prior ``p(z) = N(0, I_L)`` with ``L = latent_dim``;
- decoder ``p(u | z) = N(f(z), diag(s^2))``: ``f`` is an MLP and ``s`` (d,) a per-feature
  standard deviation that does not depend on ``z``;
- encoder ``q(z | u) = N(m(u), diag(v(u)))``, an MLP.

Training maximises the ELBO ``E_q[log p(u|z)] - KL(q(z|u) || p(z))`` with Adam and the
reparameterisation trick. The decoder variance is not a gradient-trained parameter: given the
decoder, its maximum-likelihood value is the per-feature mean squared residual, so each batch
uses that closed form and the final ``s^2`` is the residual over the whole training set
(the calibrated "sigma-VAE" of Rybkin, Daniilidis & Levine 2021). A gradient-trained variance
moves about ``lr`` per step and, in short CPU trainings, leaves the model far noisier than the
data, which would swamp the collapse signal.

``log_prob`` is the importance-weighted bound of Burda et al. 2016 ("Importance Weighted
Autoencoders"), ``log (1/K) sum_k p(x, z_k) / q(z_k | x)`` with ``z_k ~ q(z | x)``: a lower
bound on ``log p(x)`` in expectation, increasing in ``K`` and converging to ``log p(x)`` as
``K -> inf``; ``K = 1`` is the ELBO. It is on the original data scale: the log-Jacobian of the
standardisation, ``-sum(log std_)``, is included.

In the recursive loop (Shumailov et al. 2024, "AI models collapse when trained on recursively
generated data", Nature 631, the VAE experiment) each generation is fitted on the previous one's
samples; the trace of :meth:`VAE.moments` and :meth:`VAE.latent_spread` track the shrinking
sample diversity and latent code (see ``benchmarks/vae_digits.py``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.registry import register
from modelcollapse.generators.torch_utils import (
    load_numpy_state,
    pick_device,
    require_torch,
    to_numpy_state,
    torch_generator,
    use_threads,
)
from modelcollapse.generators.validation import (
    check_float,
    check_int,
    check_log_prob,
    check_numeric,
    check_state,
)

_LOG_2PI = math.log(2.0 * math.pi)
# Fixed seeds make log_prob and moments deterministic functions of the fitted weights.
IW_SEED = 20160101  # importance samples of log_prob
MOMENT_SEED = 20140101  # prior draws of moments
MOMENT_SAMPLES = 100_000
_CHUNK = 2**20  # floats per intermediate tensor when sampling or scoring (bounds memory)


@functools.cache
def _net_class() -> type:
    """The ``torch.nn.Module`` class, built on first use so this module imports without torch."""
    torch = require_torch()
    nn = torch.nn

    def mlp(sizes: list[int]) -> Any:
        # skip_init: no draws from torch's global RNG; VAENet.init_ uses an explicit generator.
        layers: list[Any] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.utils.skip_init(nn.Linear, a, b))
            if i < len(sizes) - 2:  # no activation after the output layer
                layers.append(nn.SiLU())
        return nn.Sequential(*layers)

    class VAENet(nn.Module):
        """Encoder ``u (B, d) -> m, log v (B, L)``; decoder ``z (B, L) -> f(z) (B, d)``."""

        def __init__(self, d: int, latent: int, hidden: list[int]):
            super().__init__()
            self.latent, self.hidden = latent, hidden
            self.encoder = mlp([d, *hidden, 2 * latent])
            self.decoder = mlp([latent, *reversed(hidden), d])
            self.register_buffer("log_std", torch.zeros(d))  # log s, set in closed form

        def init_(self, gen: Any) -> None:
            """PyTorch's default ``Linear`` initialisation, drawn from ``gen``."""
            with torch.no_grad():
                for layer in [*self.encoder, *self.decoder]:
                    if isinstance(layer, nn.Linear):
                        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
                        bound = 1.0 / math.sqrt(layer.in_features)
                        nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
                self.log_std.zero_()

        def encode(self, u: Any) -> tuple[Any, Any]:
            m, log_v = self.encoder(u).chunk(2, dim=-1)
            return m, log_v.clamp(-16.0, 10.0)  # keeps exp() finite early in training

        def width(self) -> int:
            """Widest layer output, to size chunks."""
            return max(layer.out_features for layer in self.decoder[::2])

    return VAENet


def _gauss_log_pdf(x: Any, mean: Any, log_sd: Any) -> Any:
    """``sum_j log N(x_j; mean_j, exp(log_sd_j)^2)`` over the last axis (broadcasting)."""
    return (-0.5 * ((x - mean) / log_sd.exp()) ** 2 - log_sd - 0.5 * _LOG_2PI).sum(-1)


@register
class VAE(Generator):
    """Gaussian VAE with MLP encoder and decoder; samples and ``log_prob`` on the data's scale.

    Hyperparameters:
        latent_dim: size ``L`` of the latent code.
        hidden: hidden widths of the encoder (an int is one layer; ``[]`` makes encoder and
            decoder linear, a factor-analysis-like model); the decoder mirrors them.
        epochs, batch_size, lr: Adam on the negative ELBO, data reshuffled every epoch.
        min_std: floor of the decoder standard deviation ``s``, in standardised units, so
            constant features (blank digit corners) get a finite density.
        sample_noise: True (default): ``sample`` draws ``x ~ p(x|z)``, decoder mean plus
            observation noise, the model distribution itself. False: it returns the decoder
            means ``f(z)`` (smoother, less diverse). ``moments`` follows this choice;
            ``log_prob`` is always the full model's.
        iw_samples: ``K`` of the importance-weighted bound in ``log_prob`` (1 is the ELBO).
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda:N"``; threads: torch threads
            (None: every core this process may use).
        warm_start: when True and already fitted (e.g. loaded from the previous generation's
            state), ``fit`` continues training the current weights and keeps the current
            ``mean_``/``std_``; otherwise it re-initialises from ``rng``.

    Learned: ``net_`` (the torch module), ``mean_`` and ``std_`` (d,) of the standardisation
    (constant columns get the mean spread of the others, or 1), ``loss_history_`` (per-epoch
    mean negative ELBO per row of the last ``fit``, nats on the original scale).
    """

    kind = "vae"
    # The run store writes this model's weights as safetensors (see loop/store.py).
    checkpoint_format = "safetensors"
    data_kind = "numeric"

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        hidden: int | Sequence[int] = (128, 128),
        epochs: int = 100,
        batch_size: int = 128,
        lr: float = 1e-3,
        min_std: float = 0.01,
        sample_noise: bool = True,
        iw_samples: int = 64,
        device: str = "auto",
        threads: int | None = None,
        warm_start: bool = False,
    ):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_std = min_std
        self.sample_noise = sample_noise
        self.iw_samples = iw_samples
        self.device = device
        self.threads = threads
        self.warm_start = warm_start

    # -- hyperparameters -------------------------------------------------------------------
    def _arch(self) -> tuple[int, list[int]]:
        h = self.hidden
        if isinstance(h, (int, np.integer)) and not isinstance(h, bool):
            h = [h]
        if not isinstance(h, (list, tuple)):
            raise InvalidParameterError(f"hidden: expected an integer or a list, got {h!r}")
        return check_int("latent_dim", self.latent_dim), [check_int("hidden", w) for w in h]

    def _start(self) -> Any:
        """Validate the run-time switches and set torch's threads; returns torch."""
        for name in ("sample_noise", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(
                    f"{name}: expected true/false, got {getattr(self, name)!r}"
                )
        use_threads(None if self.threads is None else check_int("threads", self.threads))
        return require_torch()

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Maximise the ELBO; ``rng`` (required) seeds init, shuffling and the latent noise."""
        torch = self._start()
        latent, hidden = self._arch()
        epochs, batch = check_int("epochs", self.epochs), check_int("batch_size", self.batch_size)
        lr = check_float("lr", self.lr, low_inclusive=False)
        log_floor = math.log(check_float("min_std", self.min_std, low_inclusive=False))
        if rng is None:
            raise InvalidParameterError(
                "vae.fit: expected rng=numpy.random.Generator (initialisation, shuffling and "
                "the reparameterisation noise are random), got None"
            )
        rng, x = check_rng(rng), check_numeric(data)
        n, d = x.shape
        resume = bool(self.warm_start) and hasattr(self, "net_")
        if resume:
            if d != self.mean_.shape[0]:
                raise DataError(f"vae.fit: expected {self.mean_.shape[0]} columns, got {d}")
            net, mean, std, dev = self.net_, self.mean_, self.std_, self._device()
        else:
            mean, std, dev = x.mean(axis=0), x.std(axis=0), pick_device(self.device)
            constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
            std[constant] = std[~constant].mean() if (~constant).any() else 1.0
            if not (np.isfinite(mean).all() and np.isfinite(std).all()):
                raise DataError("vae.fit: expected finite column means and spreads, got overflow")
        gen = torch_generator(rng, dev)
        if not resume:
            net = _net_class()(d, latent, hidden).to(dev)
            net.init_(gen)
        u = torch.as_tensor((x - mean) / std, dtype=torch.float32, device=dev)  # (n, d)

        def residual(ub: Any) -> tuple[Any, Any, Any]:
            """Squared reconstruction residual (B, d) with ``z ~ q(z|u)``, and q's parameters."""
            m, log_v = net.encode(ub)  # (B, L) each
            z = m + (0.5 * log_v).exp() * torch.randn(m.shape, generator=gen, device=dev)
            return (ub - net.decoder(z)) ** 2, m, log_v

        opt = torch.optim.Adam(net.parameters(), lr=lr)
        history = []
        for _ in range(epochs):
            perm, total = torch.randperm(n, generator=gen, device=dev), 0.0
            for start in range(0, n, batch):
                sq, m, log_v = residual(u[perm[start : start + batch]])
                # ML decoder variance of this batch, held fixed for the gradient (envelope thm).
                log_s = 0.5 * sq.detach().mean(0).log().clamp_min(2 * log_floor)  # (d,)
                rec = (-0.5 * sq / (2 * log_s).exp() - log_s - 0.5 * _LOG_2PI).sum(-1)  # (B,)
                kl = 0.5 * (m**2 + log_v.exp() - 1.0 - log_v).sum(-1)  # (B,) closed form
                loss = (kl - rec).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * sq.shape[0]
            history.append(total / n + float(np.log(std).sum()))
        with torch.no_grad():  # final s^2: the ML value over the whole training set
            sq_sum = sum(residual(u[i : i + 4096])[0].double().sum(0) for i in range(0, n, 4096))
            net.log_std.copy_((0.5 * (sq_sum / n).log()).clamp_min(log_floor))
        if not (np.isfinite(history[-1]) and torch.isfinite(net.log_std).all()):
            raise DataError("vae.fit: the training loss diverged (NaN/inf); lower lr")
        self.net_, self.mean_, self.std_ = net.eval(), mean, std
        self.loss_history_ = np.asarray(history, dtype=np.float64)
        return self

    # -- the model distribution ------------------------------------------------------------
    def _device(self) -> Any:
        return self.net_.log_std.device

    def _draw(self, n: int, gen: Any, noise: bool) -> Iterator[Any]:
        """``n`` decoded prior draws in chunks (B, d), standardised units, on the device;
        decoder noise is added when ``noise``."""
        torch, net = require_torch(), self.net_
        step = max(1, _CHUNK // net.width())
        with torch.inference_mode():
            for start in range(0, n, step):
                z = torch.randn(
                    (min(step, n - start), net.latent), generator=gen, device=self._device()
                )
                f = net.decoder(z)
                if noise:
                    f = f + net.log_std.exp() * torch.randn(f.shape, generator=gen, device=f.device)
                yield f

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws (n, d) float64: ``z ~ N(0, I)``, then ``x ~ p(x|z)`` (or ``f(z)``).

        All the noise comes from one ``torch.Generator`` seeded from ``rng``.
        """
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        self._start()
        out = np.empty((n, self.mean_.shape[0]), dtype=np.float64)
        start = 0
        for f in self._draw(n, torch_generator(rng, self._device()), bool(self.sample_noise)):
            out[start : start + f.shape[0]] = f.double().cpu().numpy() * self.std_ + self.mean_
            start += f.shape[0]
        return out

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """Importance-weighted lower bound on ``log p(x)`` per row, in nats, original scale.

        ``log (1/K) sum_k p(u|z_k) p(z_k) / q(z_k|u) - sum(log std_)`` with
        ``z_k = m(u) + sqrt(v(u)) eps_k``, ``K = iw_samples``. The noise ``eps`` (n, K, L)
        is drawn, row after row, from a ``torch.Generator`` seeded with ``IW_SEED``: the same
        array always gets the same values, and each row's expectation over its own ``eps`` is
        the IWAE bound (Burda et al. 2016). (Sharing one ``eps`` across rows would make the
        whole column of values one random draw, so averages over rows would not settle.)
        """
        self._check_fitted()
        torch = self._start()
        k = check_int("iw_samples", self.iw_samples)
        x = check_numeric(data, n_features=self.mean_.shape[0], min_rows=0)
        net, dev = self.net_, self._device()
        gen = torch.Generator(device=dev)
        gen.manual_seed(IW_SEED)
        out = np.empty(x.shape[0], dtype=np.float64)
        step = max(1, _CHUNK // (k * max(net.width(), x.shape[1])))
        with np.errstate(over="ignore", invalid="ignore"):  # huge inputs: NaN, caught below
            u_all = (x - self.mean_) / self.std_
        with torch.inference_mode():
            log_s = net.log_std.double()
            for start in range(0, x.shape[0], step):
                u = torch.as_tensor(u_all[start : start + step], device=dev)  # (B, d) float64
                m, log_v = (t.double() for t in net.encode(u.float()))  # (B, L)
                eps = torch.randn((u.shape[0], k, net.latent), generator=gen, device=dev)
                eps = eps.double()  # (B, K, L)
                z = m[:, None] + (0.5 * log_v).exp()[:, None] * eps  # (B, K, L)
                log_q = _gauss_log_pdf(eps, 0.0 * eps, 0.0 * eps) - 0.5 * log_v.sum(-1)[:, None]
                log_w = (
                    _gauss_log_pdf(u[:, None], net.decoder(z.float()).double(), log_s)  # p(u|z)
                    + _gauss_log_pdf(z, 0.0 * z, 0.0 * z)  # log p(z)
                    - log_q  # log q(z|u) = log N(eps; 0, I) - sum log sd, (B, K)
                )
                lp = torch.logsumexp(log_w, dim=1) - math.log(k)
                out[start : start + u.shape[0]] = lp.cpu().numpy()
        return check_log_prob(out - np.log(self.std_).sum(), "vae")

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (d,) and covariance (d, d) of the model distribution: a Monte Carlo estimate.

        Law of total covariance: ``mean = E_z[f(z)]``, ``cov = Cov_z[f(z)] + diag(s^2)`` (the
        noise term only with ``sample_noise``), mapped to the data scale. The expectations over
        ``z ~ N(0, I)`` use ``MOMENT_SAMPLES`` prior draws from a ``torch.Generator`` seeded
        with ``MOMENT_SEED``, so the estimate is deterministic; relative error ~ ``sqrt(2/M)``.
        """
        self._check_fitted()
        torch = self._start()
        gen = torch.Generator(device=self._device())
        gen.manual_seed(MOMENT_SEED)
        # Shifted sums on the device (float64): no (M, d) array, and no host BLAS call.
        shift = s1 = s2 = None
        for f in self._draw(MOMENT_SAMPLES, gen, noise=False):  # decoder means f(z), (B, d)
            f = f.double()
            if shift is None:
                shift, s1, s2 = f.mean(0), 0.0, 0.0
            g = f - shift
            s1, s2 = s1 + g.sum(0), s2 + g.T @ g
        m = s1 / MOMENT_SAMPLES
        cov = (s2 - MOMENT_SAMPLES * torch.outer(m, m)) / (MOMENT_SAMPLES - 1)
        if self.sample_noise:
            cov = cov + torch.diag((2 * self.net_.log_std.double()).exp())
        mean, cov = (shift + m).cpu().numpy(), cov.cpu().numpy()
        return self.std_ * mean + self.mean_, cov * np.outer(self.std_, self.std_)

    def latent_spread(self, data: np.ndarray) -> float:
        """Mean over latent dimensions of the variance across ``data`` of the encoder mean.

        ``(1/L) sum_j Var_x(E_q[z_j | x])``. When the aggregate posterior matches the prior,
        ``Var_x(E_q[z_j|x]) + E_x(Var_q[z_j|x]) = 1``, so the spread is near 1 for an
        informative code and near 0 when the posterior ignores the data (posterior collapse).
        Measured on a model's own training set it shows the code shrinking under recursion.
        """
        self._check_fitted()
        torch = self._start()
        x = check_numeric(data, n_features=self.mean_.shape[0], min_rows=2)
        u = (x - self.mean_) / self.std_
        with torch.inference_mode():
            m, _ = self.net_.encode(torch.as_tensor(u, dtype=torch.float32, device=self._device()))
        return float(m.double().cpu().numpy().var(axis=0).mean())

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        arch = [self.mean_.shape[0], self.net_.latent, *self.net_.hidden]
        return {
            **to_numpy_state(self.net_, "net."),
            "arch": np.asarray(arch, dtype=np.int64),  # [d, latent_dim, *hidden]
            "mean_": self.mean_.copy(),
            "std_": self.std_.copy(),
            "loss_history_": self.loss_history_.copy(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        """Rebuild the network from ``arch`` (which must match ``latent_dim`` and ``hidden``)
        and load the weights; nothing is unpickled."""
        owner = type(self).__name__
        s = check_state(state, ("arch", "mean_", "std_", "loss_history_"), owner)
        arch, mean, std = (
            s[k].astype(v) for k, v in (("arch", np.int64), ("mean_", float), ("std_", float))
        )
        latent, hidden = self._arch()
        if (
            arch.ndim != 1
            or arch.shape[0] < 2
            or mean.shape != (arch[0],)
            or std.shape != mean.shape
        ):
            raise DataError(
                f"{owner} state: expected arch [d, L, *hidden], mean_ (d,) and std_ (d,), "
                f"got {arch.tolist()}, {mean.shape} and {std.shape}"
            )
        if arch[1:].tolist() != [latent, *hidden]:
            raise DataError(
                f"{owner} state: expected latent_dim={latent}, hidden={hidden} (this generator's "
                f"hyperparameters), got latent_dim={arch[1]}, hidden={arch[2:].tolist()}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise DataError(f"{owner} state: expected finite mean_ and positive finite std_")
        torch = self._start()
        net = _net_class()(int(arch[0]), latent, hidden)
        try:
            load_numpy_state(net, {k: v for k, v in state.items() if k.startswith("net.")}, "net.")
        except (RuntimeError, TypeError, InvalidParameterError) as exc:
            raise DataError(
                f"{owner} state: weights do not match the architecture ({exc})"
            ) from None
        if not all(torch.isfinite(t).all() for t in net.state_dict().values()):
            raise DataError(f"{owner} state: expected finite weights, got NaN or inf")
        self.net_ = net.to(pick_device(self.device)).eval()
        self.mean_, self.std_ = mean, std
        self.loss_history_ = s["loss_history_"].astype(np.float64)
        return self
