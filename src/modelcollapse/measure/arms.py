"""The data each metric compares, and its bootstrap replicates.

A metric value on its own says little: vocabulary size, distinct-n or rare-word recall all
depend on how many documents were measured. ``measure`` therefore compares every candidate
value with the value of a *healthy stand-in of the same size*, drawn from the reference:

- one-sample metrics (``needs_reference=False``: vocabulary, entropy, variance, ...) compare
  the candidate with the reference, the larger of the two subsampled (without replacement) to
  ``m = min(n_candidate, n_reference)`` records;
- two-sample metrics (``needs_reference=True``: rare-word recall, perplexity, Fréchet
  distance, ...) compare the candidate with a reference *anchor*. The reference is split at
  random into the anchor (the first ``ceil(n/2)`` of a permutation) and a *probe* (the rest);
  the reference value is the metric of the probe against the anchor, the candidate value is the
  metric of the candidate against the same anchor, with candidate and probe matched to
  ``m = min(n_candidate, n_probe)`` records. The probe is disjoint from the anchor, so a
  candidate from the reference distribution gets the same value as the probe in expectation.

Each arm holds ``n_boot`` replicate index arrays (:func:`~.bootstrap.resample_indices`); a
replicate of a two-sample metric resamples the candidate (or probe) and the anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.measure.bootstrap import check_n_boot, resample_indices

LayoutKind = Literal["one_sample", "two_sample"]


def n_records(data: Any) -> int:
    """Number of records (documents or rows)."""
    return len(data)


def take(data: Any, index: np.ndarray) -> Any:
    """The records of ``data`` at ``index`` (a list for text, an array for numeric data)."""
    if isinstance(data, np.ndarray):
        return data[index]
    return [data[i] for i in index.tolist()]


def subsample(data: Any, m: int, rng: np.random.Generator) -> Any:
    """``m`` records drawn without replacement, in their original order (all when ``m >= n``)."""
    n = n_records(data)
    if m >= n:
        return data
    return take(data, np.sort(rng.choice(n, size=m, replace=False)))


@dataclass
class Arm:
    """Records of one side of a comparison and the indices of their bootstrap replicates."""

    data: Any
    indices: np.ndarray  # (n_boot, n)

    @property
    def n(self) -> int:
        return n_records(self.data)

    def replicate(self, b: int) -> Any:
        """The records of bootstrap replicate ``b``."""
        return take(self.data, self.indices[b])


@dataclass
class Layout:
    """What one kind of metric compares: candidate vs probe, optionally against an anchor."""

    kind: LayoutKind
    candidate: Arm
    probe: Arm
    anchor: Arm | None
    n_boot: int

    @property
    def n_matched(self) -> int:
        return self.candidate.n


def _arm(data: Any, n_boot: int, rng: np.random.Generator) -> Arm:
    return Arm(data, resample_indices(n_records(data), n_boot, rng))


def _need(n: int, at_least: int, what: str) -> None:
    if n < at_least:
        raise DataError(f"{what}: expected at least {at_least} records, got {n}")


def one_sample_layout(
    reference: Any, candidate: Any, n_boot: int, rng: np.random.Generator
) -> Layout:
    """Candidate vs reference, size-matched (see the module docstring)."""
    n_boot = check_n_boot(n_boot)
    _need(n_records(reference), 1, "reference")
    _need(n_records(candidate), 1, "candidate")
    sub_rng, cand_rng, probe_rng = rng.spawn(3)
    m = min(n_records(reference), n_records(candidate))
    cand = subsample(candidate, m, sub_rng)
    probe = subsample(reference, m, sub_rng)
    return Layout(
        "one_sample", _arm(cand, n_boot, cand_rng), _arm(probe, n_boot, probe_rng), None, n_boot
    )


def two_sample_layout(
    reference: Any, candidate: Any, n_boot: int, rng: np.random.Generator
) -> Layout:
    """Candidate vs probe, each against the reference anchor (see the module docstring)."""
    n_boot = check_n_boot(n_boot)
    n_ref = n_records(reference)
    _need(n_ref, 2, "reference (split into an anchor and a probe for two-sample metrics)")
    _need(n_records(candidate), 1, "candidate")
    sub_rng, cand_rng, probe_rng, anchor_rng = rng.spawn(4)
    perm = sub_rng.permutation(n_ref)
    half = (n_ref + 1) // 2
    anchor = take(reference, np.sort(perm[:half]))
    probe = take(reference, np.sort(perm[half:]))
    m = min(n_records(probe), n_records(candidate))
    cand = subsample(candidate, m, sub_rng)
    probe = subsample(probe, m, sub_rng)
    return Layout(
        "two_sample",
        _arm(cand, n_boot, cand_rng),
        _arm(probe, n_boot, probe_rng),
        _arm(anchor, n_boot, anchor_rng),
        n_boot,
    )


def capped_layout(layout: Layout, cap: int, n_boot: int, rng: np.random.Generator) -> Layout:
    """The layout with every arm subsampled (without replacement) to at most ``cap`` records and
    fresh replicate indices: what expensive metrics are bootstrapped on.

    Candidate and probe keep equal sizes, so the comparison stays size-matched; the layout is
    returned unchanged (with its own indices) when no arm exceeds ``cap``.
    """
    n_boot = check_n_boot(n_boot)
    if max(layout.candidate.n, layout.probe.n, layout.anchor.n if layout.anchor else 0) <= cap:
        return layout
    sub_rng, cand_rng, probe_rng, anchor_rng = rng.spawn(4)
    cand = _arm(subsample(layout.candidate.data, cap, sub_rng), n_boot, cand_rng)
    probe = _arm(subsample(layout.probe.data, cap, sub_rng), n_boot, probe_rng)
    anchor = None
    if layout.anchor is not None:
        anchor = _arm(subsample(layout.anchor.data, cap, sub_rng), n_boot, anchor_rng)
    return Layout(layout.kind, cand, probe, anchor, n_boot)
