"""The VAE replace loop on the bundled 8x8 digits (issue 4, experiment 2).

Generation 0 is fitted on the real training digits; every later generation is fitted only on
the previous generation's samples (the ``replace`` policy of Shumailov et al. 2024, Nature 631,
whose VAE experiment this reproduces at CPU scale). Per generation the script prints:

- ``tv_samples``: total variance (trace of the covariance) of the generation's ``n`` samples;
- ``tv_model``: the same for the model distribution, from ``VAE.moments()``;
- ``spread_own``: ``latent_spread`` of the model on its own training set (near 1 while the code
  is informative; it cannot show shrinkage by itself, since each VAE re-normalises its latent
  space to the prior);
- ``spread_ref``: ``latent_spread`` of the generation's samples under the generation-0 encoder,
  a fixed latent space in which shrinking diversity shows;
- ``heldout_ll``: mean importance-weighted log-likelihood bound (nats per image, K =
  ``--iw-samples``) of the 359 real held-out digits;
- fit wall time and training rows per second (rows x epochs / fit time), sampling wall time
  and sampled images per second.

Digits are the bundled ones (pixels in [0, 1]); nothing is downloaded.

Run: .venv/bin/python benchmarks/vae_digits.py [--generations 10] [--epochs 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modelcollapse.data.bundled import digits_split
from modelcollapse.generators.vae import VAE
from modelcollapse.rng import Role, stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--n", type=int, default=None, help="rows per generation (default: 1438)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--latent-dim", type=int, default=8)
    ap.add_argument("--hidden", type=int, nargs="*", default=[128, 128])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--iw-samples", type=int, default=64)
    ap.add_argument("--no-sample-noise", action="store_true", help="sample decoder means only")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    train, held = digits_split()
    real = np.array(train.X)
    n = len(real) if args.n is None else args.n
    data = real[stream(args.seed, 0, 0, Role.DATA).permutation(len(real))[:n]]
    template = VAE(
        latent_dim=args.latent_dim,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        iw_samples=args.iw_samples,
        sample_noise=not args.no_sample_noise,
        threads=args.threads,
        device="cpu",
    )
    print(f"{template}\nreplace loop on {n} digits, {args.generations} generations")
    print(f"real data: total variance {data.var(axis=0).sum():.3f}")
    header = (
        f"{'gen':>3} {'tv_samples':>10} {'tv_model':>8} {'spread_own':>10} {'spread_ref':>10} "
        f"{'heldout_ll':>10} {'fit_s':>6} {'train_rows/s':>12} {'sample_s':>8} {'samples/s':>10}"
    )
    print(header)
    # warm-up outside the timings: torch's first optimiser step imports and compiles a lot
    template.clone().set_params(epochs=1).fit(data[:8], rng=np.random.default_rng(0))
    reference = None
    start = time.perf_counter()
    for g in range(args.generations):
        t = time.perf_counter()
        vae = template.clone().fit(data, rng=stream(args.seed, 0, g, Role.FIT))
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        samples = vae.sample(n, rng=stream(args.seed, 0, g, Role.SAMPLE))
        sample_s = time.perf_counter() - t
        reference = vae if reference is None else reference
        print(
            f"{g:>3} {samples.var(axis=0).sum():>10.3f} {np.trace(vae.moments()[1]):>8.3f} "
            f"{vae.latent_spread(data):>10.3f} {reference.latent_spread(samples):>10.3f} "
            f"{vae.log_prob(held.X).mean():>10.2f} {fit_s:>6.2f} {n * args.epochs / fit_s:>12.0f} "
            f"{sample_s:>8.3f} "
            f"{n / max(sample_s, 1e-9):>10.0f}",
            flush=True,
        )
        data = samples
    print(f"total wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
