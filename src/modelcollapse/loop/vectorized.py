"""The vectorised Gaussian engine: every replicate advances together, one array step per generation.

Used automatically (see :func:`supports`) for a ``gaussian`` model on numeric data under
``replace``, ``accumulate`` or ``fresh`` when every metric has a batched closed form
(:data:`~modelcollapse.loop.gaussian_batch.METRICS`) and samples are not saved. 10,000
replicates × 100 generations × 100 samples take seconds (Shumailov et al. 2024's experiment).

State per replicate: the model's ``mean_`` (R, d) and ``cov_`` (R, d, d); ``accumulate`` also
keeps the sufficient statistics ``(n, mean, m2)`` of its pool (real data + every synthetic set),
never the pool itself.

Randomness. Replicates are processed in blocks of :data:`BLOCK` = 1024 (replicate ``r`` is row
``r % 1024`` of block ``r // 1024``). Each (block, generation, role) key gets
``rng.block_stream(seed, block, generation, role)`` and draws ONE array of shape ``(b, m, d)``
with ``b`` the block's size. numpy fills arrays in C order, so a smaller last block draws a prefix
of what a full block would: replicate ``r``'s trajectory does not depend on how many replicates
the run has. The streams differ from the general engine's per-replicate streams, so the two
engines give different (identically distributed) numbers for the same seed.

- Real data, ``gaussian`` source: each replicate's training set (``n`` points) and held-out set
  (``n_heldout`` points) are drawn from the truth with ``(block, 0, DATA)`` and
  ``(block, 0, HELDOUT)``; only their summaries are kept (moments, held-out tail points).
  Other numeric sources (``path``, ``digits``) give every replicate the same data.
- Generation ``g >= 1`` samples generation ``g - 1``'s model with ``(block, g - 1, SAMPLE)``;
  ``fresh`` draws its ``round(λN)`` new real points with ``(block, g, FRESH)`` from the truth, or
  resamples them (without replacement when possible) from the real training data of a dataset,
  and keeps the first ``N - round(λN)`` synthetic points (the samples are i.i.d., so this is a
  uniform subset).

Checkpoints: ``checkpoints/gen_XXXX.npz`` holds every replicate's state and metric values of
generation ``g``; a resumed run restarts from the last complete one and reproduces the
uninterrupted ``metrics.parquet`` exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from modelcollapse.errors import DataError
from modelcollapse.generators.gaussian import cov_factor
from modelcollapse.generators.validation import check_choice, check_float
from modelcollapse.loop import gaussian_batch as gb
from modelcollapse.loop.config import ExperimentConfig
from modelcollapse.loop.policies.base import counts_for
from modelcollapse.loop.policies.fresh import n_fresh
from modelcollapse.loop.policies.registry import build as build_policy
from modelcollapse.loop.store import RunStore, metrics_table
from modelcollapse.metrics.functional.gaussian import tail_points
from modelcollapse.rng import Role, block_stream

BLOCK = 1024
POLICIES = frozenset({"replace", "accumulate", "fresh"})
_TAIL_Q = 0.01  # the registry's tail_coverage quantile (metrics/functional/tail.py)


def supports(cfg: ExperimentConfig, data_kind: str, metric_names: list[str]) -> bool:
    """Whether the vectorised engine can run ``cfg`` (otherwise the general engine does)."""
    return (
        cfg.model.kind == "gaussian"
        and data_kind == "numeric"
        and cfg.policy.kind in POLICIES
        and set(metric_names) <= set(gb.METRICS)
        and not cfg.save_samples
    )


def blocks(replicates: int) -> list[tuple[int, slice]]:
    """``(block index, replicate rows)`` for every block of :data:`BLOCK` replicates."""
    return [
        (k, slice(s, min(s + BLOCK, replicates))) for k, s in enumerate(range(0, replicates, BLOCK))
    ]


def gaussian_hyperparameters(params: dict[str, Any]) -> tuple[int, float, float]:
    """``(ddof, scale, reg)`` from the model params, validated like ``Gaussian`` does."""
    from modelcollapse import generators

    generators.build("gaussian", params)  # unknown keys raise here
    ddof = {"mle": 0, "unbiased": 1}[
        check_choice("estimator", params.get("estimator", "mle"), ("mle", "unbiased"))
    ]
    scale = check_float("scale", params.get("scale", 1.0), low_inclusive=False)
    reg = check_float("reg", params.get("reg", 0.0))
    return ddof, scale, reg


def _truth(real0: Any) -> tuple[np.ndarray, np.ndarray] | None:
    truth = getattr(real0, "truth", None)
    if not truth or "mean" not in truth or "cov" not in truth:
        return None
    mean = np.atleast_1d(np.asarray(truth["mean"], dtype=np.float64))
    cov = np.atleast_2d(np.asarray(truth["cov"], dtype=np.float64))
    return mean, cov_factor(cov)


def draw_truth(
    truth: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, b: int, n: int
) -> np.ndarray:
    """``b`` independent sets of ``n`` points (b, n, d) from ``N(mean, L Lᵀ)``."""
    mean, chol = truth
    z = rng.standard_normal((b, n, mean.shape[0]))
    return mean + z @ chol.T


def real_block(
    cfg: ExperimentConfig, real0: Any, block: int, b: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out real data (b, n, d), (b, m, d) of a block's replicates.

    Synthetic (``gaussian``) source: drawn from the truth per replicate. Datasets: the shared
    data, repeated (as a broadcast view).
    """
    truth = _truth(real0)
    train0, held0 = (
        np.asarray(real0.train, dtype=np.float64),
        np.asarray(real0.heldout, dtype=np.float64),
    )
    if truth is None:
        return np.broadcast_to(train0, (b, *train0.shape)), np.broadcast_to(
            held0, (b, *held0.shape)
        )
    train = draw_truth(truth, block_stream(cfg.seed, block, 0, Role.DATA), b, train0.shape[0])
    held = draw_truth(truth, block_stream(cfg.seed, block, 0, Role.HELDOUT), b, held0.shape[0])
    return train, held


def summarise_real(train: np.ndarray, held: np.ndarray, truth: Any) -> gb.RealSummary:
    """The per-replicate real-data summaries the batched metrics need (see RealSummary)."""
    ref = gb.stats_of(train)
    ref_var = np.trace(ref.m2 / ref.n, axis1=-2, axis2=-1)
    held_stats = gb.stats_of(held)
    if truth is not None:
        mean, chol = truth
        real_mean, real_cov = mean[None], (chol @ chol.T)[None]
    else:  # ML moments of all real data held (training + held-out), as metrics/wasserstein.py
        both = gb.merge(ref, held_stats)
        real_mean, real_cov = both.mean, both.m2 / both.n
    mask = tail_points(train, held, _TAIL_Q)
    t_max = int(mask.sum(axis=-1).max()) if mask.size else 0
    # Stable argsort on ~mask moves each replicate's tail points to the front, in order.
    order = np.argsort(~mask, axis=-1, kind="stable")[..., :t_max]
    tail_x = np.take_along_axis(held, order[..., None], axis=-2)
    tail_mask = np.take_along_axis(mask, order, axis=-1)
    return gb.RealSummary(
        ref_var=ref_var,
        real_mean=real_mean,
        real_cov=real_cov,
        held_mean=held_stats.mean,
        held_cov=held_stats.m2 / held_stats.n,
        tail_x=tail_x,
        tail_mask=tail_mask,
    )


def _concat_summaries(parts: list[gb.RealSummary]) -> gb.RealSummary:
    t_max = max(p.tail_x.shape[-2] for p in parts)

    def pad(a: np.ndarray, axis_len: int, value: Any) -> np.ndarray:
        widths = [(0, 0)] * a.ndim
        widths[1] = (0, t_max - axis_len)
        return np.pad(a, widths, constant_values=value)

    def cat(name: str) -> np.ndarray:
        arrays = [getattr(p, name) for p in parts]
        if arrays[0].shape[0] == 1 and all(a.shape[0] == 1 for a in arrays):
            return arrays[0]  # shared by every replicate
        return np.concatenate(arrays)

    return gb.RealSummary(
        ref_var=cat("ref_var"),
        real_mean=cat("real_mean"),
        real_cov=cat("real_cov"),
        held_mean=cat("held_mean"),
        held_cov=cat("held_cov"),
        tail_x=np.concatenate([pad(p.tail_x, p.tail_x.shape[-2], 0.0) for p in parts]),
        tail_mask=np.concatenate([pad(p.tail_mask, p.tail_mask.shape[-1], False) for p in parts]),
    )


class _Engine:
    """The state of a vectorised run and the step from one generation to the next."""

    def __init__(self, cfg: ExperimentConfig, real0: Any, names: list[str]):
        self.cfg = cfg
        self.names = sorted(names)
        self.ddof, self.scale, self.reg = gaussian_hyperparameters(cfg.model.params)
        self.policy = build_policy(cfg.policy.kind, cfg.policy.params)
        self.truth = _truth(real0)
        self.pool = np.asarray(real0.train, dtype=np.float64)  # fresh resampling for datasets
        self.k_fresh = (
            n_fresh(self.policy.lam, cfg.samples_per_generation)
            if cfg.policy.kind == "fresh"
            else 0
        )
        n_train = cfg.samples_per_generation if cfg.policy.kind != "accumulate" else len(self.pool)
        if n_train <= self.ddof:
            raise DataError(
                f"gaussian ({'unbiased' if self.ddof else 'mle'}): expected at least {self.ddof + 1} "
                f"training points per generation, got {n_train}"
            )
        R = cfg.replicates
        self.blocks = blocks(R)
        if self.truth is None:
            # A dataset: one summary, broadcast over replicates (never R copies of the data).
            self.real = summarise_real(
                self.pool[None], np.asarray(real0.heldout, dtype=np.float64)[None], None
            )
            st = gb.stats_of(self.pool[None])
            self.train_stats = gb.Stats(st.n, np.repeat(st.mean, R, 0), np.repeat(st.m2, R, 0))
        else:
            parts, stats = [], []
            for k, rows in self.blocks:
                train, held = real_block(cfg, real0, k, rows.stop - rows.start)
                parts.append(summarise_real(train, held, self.truth))
                stats.append(gb.stats_of(train))
            self.real = _concat_summaries(parts)
            self.train_stats = gb.Stats(
                stats[0].n,
                np.concatenate([s.mean for s in stats]),
                np.concatenate([s.m2 for s in stats]),
            )
        self.mean = np.empty(0)
        self.cov = np.empty(0)
        self.acc: gb.Stats | None = None

    # -- generations ---------------------------------------------------------------------------
    def start(self) -> None:
        """Generation 0: fit every replicate on its real training data."""
        self.mean, self.cov = gb.fit_from_stats(self.train_stats, self.ddof, self.reg)
        if self.cfg.policy.kind == "accumulate":
            self.acc = self.train_stats

    def step(self, g: int) -> None:
        """Advance every replicate from generation ``g - 1`` to ``g``."""
        cfg, m = self.cfg, self.cfg.samples_per_generation
        new_mean, new_cov = np.empty_like(self.mean), np.empty_like(self.cov)
        new_acc = []
        d = self.mean.shape[-1]
        for k, rows in self.blocks:
            b = rows.stop - rows.start
            z = block_stream(cfg.seed, k, g - 1, Role.SAMPLE).standard_normal((b, m, d))
            x = gb.sample(self.mean[rows], gb.factor(self.cov[rows]), self.scale, z)
            if cfg.policy.kind == "accumulate":
                assert self.acc is not None
                acc = gb.merge(self.acc.take(rows), gb.stats_of(x))
                new_acc.append(acc)
                new_mean[rows], new_cov[rows] = gb.fit_from_stats(acc, self.ddof, self.reg)
                continue
            if self.k_fresh:
                x = np.concatenate([self._fresh(k, g, b), x[:, : m - self.k_fresh]], axis=1)
            new_mean[rows], new_cov[rows] = gb.fit(x, self.ddof, self.reg)
        self.mean, self.cov = new_mean, new_cov
        if new_acc:
            self.acc = gb.Stats(
                new_acc[0].n,
                np.concatenate([a.mean for a in new_acc]),
                np.concatenate([a.m2 for a in new_acc]),
            )

    def _fresh(self, block: int, g: int, b: int) -> np.ndarray:
        rng = block_stream(self.cfg.seed, block, g, Role.FRESH)
        if self.truth is not None:
            return draw_truth(self.truth, rng, b, self.k_fresh)
        n_pool, k = self.pool.shape[0], self.k_fresh
        if k <= n_pool:  # without replacement: the k smallest of n_pool uniform keys
            idx = np.argpartition(rng.random((b, n_pool)), k - 1, axis=1)[:, :k]
        else:
            idx = rng.integers(0, n_pool, size=(b, k))
        return self.pool[idx]

    def metrics(self) -> np.ndarray:
        """Metric values (R, len(names)) of the current generation."""
        return gb.batched_metrics(self.names, self.mean, self.scale * self.cov, self.real)

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "cov": self.cov}
        if self.acc is not None:
            out.update(acc_n=np.asarray(self.acc.n), acc_mean=self.acc.mean, acc_m2=self.acc.m2)
        return out

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.mean, self.cov = arrays["mean"], arrays["cov"]
        if self.cfg.policy.kind == "accumulate":
            self.acc = gb.Stats(int(arrays["acc_n"]), arrays["acc_mean"], arrays["acc_m2"])

    def policy_counts(self, g: int) -> dict[str, int]:
        """Training-set provenance of generation ``g`` (identical for every replicate)."""
        m, n = self.cfg.samples_per_generation, len(self.pool)
        if g == 0:
            return counts_for(real=n)
        if self.cfg.policy.kind == "accumulate":
            return counts_for(real=n, synthetic=g * m)
        return counts_for(synthetic=m - self.k_fresh, fresh=self.k_fresh)


def run_vectorized(
    cfg: ExperimentConfig,
    store: RunStore,
    real0: Any,
    names: list[str],
    *,
    resume: bool,
    progress: bool,
) -> tuple[pa.Table, dict[str, float]]:
    """Run (or resume) ``cfg`` with the vectorised engine; returns (metrics table, policy counts)."""
    from modelcollapse.progress import progress_bar

    engine = _Engine(cfg, real0, names)
    R, G = cfg.replicates, cfg.generations
    values = np.empty((G + 1, R, len(engine.names)))
    done = store.load_generations()[: G + 1] if resume else []
    for g, arrays in enumerate(done):
        if (
            arrays["metric_values"].shape != (R, len(engine.names))
            or list(arrays["metric_names"]) != engine.names
        ):
            raise DataError(
                f"checkpoint generation {g}: expected {R} replicates × {engine.names}, got "
                f"{arrays['metric_values'].shape} {list(arrays['metric_names'])}",
                path=str(store.checkpoint_dir / f"gen_{g:04d}.npz"),
            )
        values[g] = arrays["metric_values"]
    desc = f"gaussian / {cfg.policy.kind} (vectorised): replicates × generations"
    with progress_bar(progress, R * (G + 1), desc) as advance:
        advance(R * len(done))
        if done:
            engine.restore(done[-1])
        for g in range(len(done), G + 1):
            if g == 0:
                engine.start()
            else:
                engine.step(g)
            values[g] = engine.metrics()
            store.write_generation(
                g,
                {
                    **engine.state(),
                    "metric_names": np.asarray(engine.names, dtype=str),
                    "metric_values": values[g],
                },
            )
            advance(R)
    n_m = len(engine.names)
    # Rows in (replicate, generation, metric) order, built without a sort.
    flat = np.ascontiguousarray(values.transpose(1, 0, 2)).ravel()
    rep = np.repeat(np.arange(R, dtype=np.int64), (G + 1) * n_m)
    gen = np.tile(np.repeat(np.arange(G + 1, dtype=np.int64), n_m), R)
    code = np.tile(np.arange(n_m, dtype=np.int64), R * (G + 1))
    table = metrics_table(gen, rep, code, engine.names, flat, assume_sorted=True)
    counts = {k: float(v) for k, v in engine.policy_counts(G).items()}
    return table, counts
