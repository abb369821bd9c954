"""One replicate of the general engine: fit, sample, measure, compose, generation after generation.

For replicate ``r`` of an experiment with seed ``s`` and ``G = cfg.generations``:

- generation 0: ``model_0`` = a fresh clone of the template fitted on the real training data;
- generation ``g >= 1``: ``model_g`` = a fresh clone fitted on
  ``policy.compose(real, history, g, ...)``, where ``history[i]`` is the (admitted) synthetic
  set of generation ``i``. A generator with ``warm_start=True`` (the neural ones, as in the
  fine-tuning experiments of Shumailov et al. 2024) is instead a clone loaded with
  ``model_{g-1}``'s state, so its ``fit`` continues training from there;
- every generation draws ``N = samples_per_generation`` samples from its model, computes the
  metrics on ``(model, samples)`` and appends the admitted samples to the history.

``generations: G`` therefore means generations ``0..G``: ``G + 1`` fitted models, ``G`` of them
trained on synthetic data. All randomness comes from ``rng.stream(s, r, g, role)``, so a
replicate's results depend neither on other replicates nor on where or when it runs, and a
resumed replicate continues with exactly the numbers an uninterrupted one would draw. Generations
are checkpointed atomically (admitted samples, metric values, policy counts, and the model state
of the last generation in each file) at least every ``checkpoint_every`` seconds, and
:func:`run_replicate` continues from the checkpoints after a kill, losing at most that much work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse import generators
from modelcollapse.errors import InvalidParameterError
from modelcollapse.generators.base import Generator
from modelcollapse.loop.config import ExperimentConfig
from modelcollapse.loop.data_ops import length
from modelcollapse.loop.policies import PolicyContext
from modelcollapse.loop.policies import build as build_policy
from modelcollapse.loop.policies.base import counts_for
from modelcollapse.loop.store import (
    DEFAULT_CHECKPOINT_EVERY,
    Checkpoint,
    RunStore,
    check_checkpoint_every,
)
from modelcollapse.rng import Role, stream


@dataclass
class ReplicateResult:
    """Metric rows and policy counts of one replicate, generation by generation."""

    replicate: int
    metrics: list[dict[str, float]] = field(default_factory=list)  # index = generation
    counts: list[dict[str, int]] = field(default_factory=list)
    resumed_from: int = 0  # first generation computed in this call


def build_template(cfg: ExperimentConfig, real: Any) -> Generator:
    """The unfitted model every generation clones, checked against the data kind.

    A categorical model without ``n_categories`` on a categorical source gets the size of the
    true support, so categories that vanish stay representable (and ``lost_mass`` is defined).
    """
    params = dict(cfg.model.params)
    truth = getattr(real, "truth", None) or {}
    if cfg.model.kind == "categorical" and "n_categories" not in params and "probs" in truth:
        params["n_categories"] = int(np.asarray(truth["probs"]).shape[0])
    template = generators.build(cfg.model.kind, params)
    if template.data_kind != real.data_kind:
        raise InvalidParameterError(
            f"model.kind {cfg.model.kind!r} expects {template.data_kind} data, got "
            f"{real.data_kind} data from data.source {cfg.data.source!r}"
        )
    return template


def metric_names(cfg: ExperimentConfig, data_kind: str) -> list[str]:
    """The configured metrics (validated) or the data kind's defaults."""
    from modelcollapse.metrics import registry

    names = list(cfg.metrics) or list(registry.default_metrics(data_kind))
    for name in names:
        registry.get(name, data_kind)  # raises with "did you mean" on a typo
    return names


def _measure(
    names: list[str],
    model: Generator,
    samples: Any,
    real: Any,
    rng: np.random.Generator,
    tokenizer: str = "whitespace",
) -> dict[str, float]:
    from modelcollapse.metrics.context import MetricContext
    from modelcollapse.metrics.registry import compute

    ctx = MetricContext(
        data_kind=real.data_kind,
        model=model,
        samples=samples,
        reference=real.train,
        heldout=real.heldout,
        truth=real.truth,
        rng=rng,
        tokenizer=tokenizer,
    )
    return {k: float(v) for k, v in compute(names, ctx).items()}


def run_replicate(
    cfg: ExperimentConfig,
    replicate: int,
    root: str | Path,
    *,
    resume: bool = False,
    on_generation: Callable[[int], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
) -> ReplicateResult:
    """Run (or finish) replicate ``replicate`` of ``cfg``, checkpointing into ``root``.

    With ``resume``, every complete checkpoint of the replicate is loaded (metrics, counts and
    the synthetic history) and the loop continues at the next generation. ``on_generation(g)``
    is called after each generation computed here (progress bars). ``checkpoint_every``: seconds
    between checkpoint writes, 0 for one per generation (the results are the same either way).
    """
    from modelcollapse.data.sources import load_real

    checkpoint_every = check_checkpoint_every(checkpoint_every)
    store = RunStore(root)
    seed, r, n_samples = cfg.seed, int(replicate), cfg.samples_per_generation
    real = load_real(cfg.data, seed=seed, replicate=r)
    template = build_template(cfg, real)
    policy = build_policy(cfg.policy.kind, cfg.policy.params)
    names = metric_names(cfg, real.data_kind)

    result = ReplicateResult(replicate=r)
    history: list[Any] = []
    ctx = PolicyContext(samples_per_generation=n_samples, fresh_source=real.fresh)
    done = store.load_checkpoints(r) if resume else []
    done = done[: cfg.generations + 1]
    while done and done[-1].model_state is None:  # continue after the last stored model
        done.pop()
    for ck in done:
        history.append(ck.samples)
        result.metrics.append(ck.metrics)
        result.counts.append(ck.counts)
    previous: Generator | None = None
    if done:
        assert done[0].model_state is not None  # generation 0 is always written alone
        ctx.reference_model = template.clone().load_state_dict(done[0].model_state)
        # Restoring the last model also checks that the stored state still loads; a warm-started
        # generator continues from it, the others are fitted afresh from the history.
        previous = template.clone().load_state_dict(done[-1].model_state)
    result.resumed_from = len(done)
    warm = bool(getattr(template, "warm_start", False))
    model_format = template.checkpoint_format
    pending: list[Checkpoint] = []  # generations computed since the last checkpoint write
    written_at = time.monotonic()

    for g in range(len(done), cfg.generations + 1):
        if g == 0:
            training = real.train
            counts = counts_for(real=length(real.train))
        else:
            ctx.fresh_rng = stream(seed, r, g, Role.FRESH)
            comp = policy.compose(real.train, history, g, stream(seed, r, g, Role.POLICY), ctx=ctx)
            training, counts = comp.data, dict(comp.counts)
        model = template.clone()
        if warm and previous is not None:
            model.load_state_dict(previous.state_dict())
        model.fit(training, rng=stream(seed, r, g, Role.FIT))
        previous = model
        if g == 0:
            ctx.reference_model = model
        samples = model.sample(n_samples, rng=stream(seed, r, g, Role.SAMPLE))
        # Metrics describe what the model generates, before any selector screens it.
        values = _measure(
            names, model, samples, real, stream(seed, r, g, Role.METRIC), tokenizer=cfg.tokenizer
        )
        admitted = policy.admit(samples, g, ctx=ctx)
        counts.update(admitted.counts)
        history.append(admitted.data)
        if cfg.save_samples:
            store.write_samples(r, g, admitted.data, model_kind=cfg.model.kind)
        pending.append(Checkpoint(g, admitted.data, values, counts))
        if g in (0, cfg.generations) or time.monotonic() - written_at >= checkpoint_every:
            store.write_checkpoint(
                r, pending, model_state=model.state_dict(), model_format=model_format
            )
            pending, written_at = [], time.monotonic()
        result.metrics.append(values)
        result.counts.append(counts)
        if on_generation is not None:
            on_generation(g)
    return result
