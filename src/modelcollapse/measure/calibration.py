"""How the verdict's tolerances were chosen: random halves of a human corpus must be healthy.

Procedure (run ``python -m modelcollapse.measure.calibration``):

1. Draw ``n_splits`` random pairs of disjoint halves of ``n_per_half`` records each from one
   human corpus (KJV verses, or the digits images for numeric data); each pair is a reference
   and a candidate from the same distribution, so the right verdict is ``healthy``.
2. Measure every pair and record, for each metric, its *critical tolerance*
   (:attr:`~.result.MetricResult.critical_tolerance`): the largest tolerance at which that
   split would flag it. It does not depend on the tolerances, so the verdicts under any other
   tolerances follow without measuring again (:meth:`CalibrationReport.verdicts_at`).
3. Each tolerance (per role, :data:`~.verdict.TOLERANCES`, or per metric where a metric's
   noise differs from its role's, :data:`~.verdict.METRIC_TOLERANCES`) is set above the
   largest critical tolerance over all splits, with a margin (about 1.5x or more), and below
   the critical tolerances of the known-answer candidates that should flag it.
4. With the chosen tolerances the healthy rate is checked; tests/measure/test_calibration.py
   repeats this on 100 KJV splits and requires at least 95% healthy.

Figures, seed 0, ``n_boot = 200``, ``n_boot_expensive = 30`` (the defaults). ``q99`` and ``max``:
the 99th percentile and the largest critical tolerance over the 100 healthy splits (negative:
never flagged even at tolerance 0). ``early`` and ``late``: the critical tolerance of the
known-answer candidates of tests/measure/test_known_answers.py (flagged when above the
tolerance). Relative effects except js/kl (nats), frechet (share of tr Σ), sliced Wasserstein
(share of the per-coordinate standard deviation) and MMD² (absolute).

KJV, 100 splits of 1,000-verse halves, the default tokenizer ``whitespace`` (``str.split()``):
**100/100 healthy**; early = the held-out verses without words seen at most 20 times in the
KJV, late = generation 10 of a trigram replace chain. Whitespace tokens keep punctuation
(``earth.`` and ``earth`` differ), which makes the 4-gram repetition metrics noisier than with
the ``words`` tokenizer they were first calibrated with (largest critical tolerances 0.052 for
self-repetition and 0.074 for rep-n there): with the repetition role's 0.10, one split of 100
flagged ``self_repetition`` (0.149, a +43% change: that candidate half drew more formulaic
verses), 99/100 healthy; their own tolerances, 0.22 and 0.37 (1.5x the largest), give 100/100.

=================  ==========  =========  ======  ======  ======  ======
metric             role        tolerance  q99     max     early   late
=================  ==========  =========  ======  ======  ======  ======
rare_recall        tail        0.05       -0.016  0.015   0.017   0.251
vocab_size         diversity   0.06       0.005   0.016   0.236   0.371
entropy            diversity   0.02       0.001   0.002   0.019   -0.049
distinct_2         diversity   0.02       -0.008  -0.006  0.002   -0.245
ngram_diversity    diversity   0.02       -0.016  -0.016  -0.007  -0.065
self_bleu          repetition  0.10       -0.084  -0.052  -0.082  -0.158
self_repetition    repetition  0.22       -0.013  0.149   -0.169  -0.232
rep_n              repetition  0.37       0.051   0.247   -0.624  -1.351
compression_ratio  repetition  0.10       -0.024  -0.020  0.016   -0.052
perplexity         fidelity    0.05       -0.004  0.010   -0.067  1.581
js                 fidelity    0.02       -0.001  0.000   -0.008  0.085
kl                 fidelity    0.05       -0.011  -0.011  0.015   0.472
=================  ==========  =========  ======  ======  ======  ======

So the early candidate is early through its vocabulary (-26%; rare-word recall is down 14%
but, with a 500-verse anchor, not significantly beyond 5%) while perplexity holds; the late
one has lost fidelity (perplexity +173%, JS +0.09 nats) together with its vocabulary (-39%)
and its rare words (-36%). Note that at this scale a trigram chain's text gets *more* diverse
per token (word salad): entropy and distinct-n go up, which is why fidelity, not diversity
alone, separates late from early. Perplexity is per model token, so its figures do not depend
on the metrics' tokenizer.

Digits (sklearn), 100 splits of 898-image halves, numeric defaults: **98/100 healthy** with
``extreme_quantile_ratio`` at the tail tolerance 0.05 (its largest critical tolerance is 0.096:
pixel values are discrete, so extreme quantiles jump), **100/100** with its own tolerance 0.12.
Gaussian known answers (N(0, I_4), 2,000 points; early: coordinates trimmed to ±2; late:
N(0.5, 0.1 I)):

======================  ==========  =========  ======  ======  ======  ======
metric                  role        tolerance  q99     max     early   late
======================  ==========  =========  ======  ======  ======  ======
extreme_quantile_ratio  tail        0.12       0.057   0.096   0.158   0.623
variance                spread      0.10       0.003   0.010   0.211   0.874
frechet_distance        fidelity    0.10       -0.003  0.002   0.007   0.655
mmd                     fidelity    0.02       -0.001  -0.001  0.001   0.229
sliced_wasserstein      fidelity    0.10       -0.003  0.008   0.045   0.719
======================  ==========  =========  ======  ======  ======  ======

Sentence embeddings of KJV (all-MiniLM-L6-v2, ``--embeddings``; 100 splits of 1,000-verse
halves, each metric on at most 1,000 records a side): **99/100 healthy** at the diversity
tolerance 0.02 (``vendi_score`` reached 0.025 once), **100/100** with its own 0.04. The
known answers get the right verdict with the embedding metrics added; on generation 10 the
embedding coverage (-30%), recall (-47%), precision (-25%) and Fréchet distance (+0.21 tr Σ)
are flagged, the Vendi score (-8%) and MMD² (+0.017) are not.

==========================  ==========  =========  ======  ======
metric                      role        tolerance  q99     max
==========================  ==========  =========  ======  ======
embedding.coverage          tail        0.05       -0.030  -0.021
embedding.recall            tail        0.05       -0.021  0.008
embedding.vendi_score       diversity   0.04       0.010   0.025
embedding.frechet_distance  fidelity    0.10       -0.008  -0.007
embedding.mmd               fidelity    0.02       -0.000  -0.000
embedding.precision         fidelity    0.05       -0.012  -0.005
==========================  ==========  =========  ======  ======

The bootstrap interval of ``vocab_size`` under-covers (with the ``words`` tokenizer, 14 of 100
KJV splits had a 95% interval of the difference excluding 0, against 5 expected: a resample
holds fewer distinct documents, so fewer distinct words, and varies less); its tolerance
absorbs that. The other
metrics excluded 0 in 2 to 5 of 100 splits, as they should.

Reproduce: ``python -m modelcollapse.measure.calibration`` (all text metrics: add ``--metrics``
with the names above; about 15 minutes on 2 cores) and
``python -m modelcollapse.measure.calibration --corpus digits --per-half 898``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.measure import default_metric_names, measure
from modelcollapse.measure.verdict import decide, tolerance_of
from modelcollapse.metrics.registry import ROLES

CORPORA = ("kjv", "digits")


def corpus_records(corpus: str) -> tuple[list[str] | np.ndarray, str]:
    """All records of a bundled human corpus and its measure kind."""
    if corpus == "kjv":
        from modelcollapse.data.bundled import kjv

        return [d.text for d in kjv()], "text"
    if corpus == "digits":
        from modelcollapse.data.bundled import digits

        return np.array(digits().X), "numeric"
    raise InvalidParameterError(f"corpus: expected one of {', '.join(CORPORA)}, got {corpus!r}")


def random_halves(records, n_per_half: int, rng: np.random.Generator):
    """Two disjoint random subsets of ``n_per_half`` records each (reference, candidate)."""
    n = len(records)
    if not 1 <= n_per_half <= n // 2:
        raise InvalidParameterError(
            f"n_per_half: expected an integer in [1, {n // 2}], got {n_per_half!r}"
        )
    perm = rng.permutation(n)
    a, b = np.sort(perm[:n_per_half]), np.sort(perm[n_per_half : 2 * n_per_half])
    if isinstance(records, np.ndarray):
        return records[a], records[b]
    return [records[i] for i in a], [records[i] for i in b]


@dataclass
class CalibrationReport:
    """Per-split verdicts and per-metric critical tolerances (see the module docstring)."""

    corpus: str
    n_splits: int
    n_per_half: int
    verdicts: Counter = field(default_factory=Counter)
    critical: dict[str, list[float]] = field(default_factory=dict)
    change: dict[str, list[float]] = field(default_factory=dict)
    roles: dict[str, str | None] = field(default_factory=dict)
    flags: Counter = field(default_factory=Counter)

    @property
    def healthy_rate(self) -> float:
        return self.verdicts["healthy"] / self.n_splits if self.n_splits else math.nan

    def quantile(self, name: str, q: float) -> float:
        values = np.asarray(self.critical[name], dtype=np.float64)
        values = values[~np.isnan(values)]
        return float(np.quantile(values, q)) if values.size else math.nan

    def role_maximum(self, role: str) -> float:
        """The largest critical tolerance of any metric of ``role`` over all splits."""
        values = [
            v for n, vs in self.critical.items() if self.roles[n] == role for v in vs if v == v
        ]
        return max(values) if values else math.nan

    def verdicts_at(self, tolerances: dict[str, float] | None = None) -> Counter:
        """The verdicts the splits get with other tolerances (by role or metric name, on top
        of the current ones): a metric is flagged exactly when its critical tolerance exceeds
        its tolerance, so no split needs to be measured again."""
        out: Counter = Counter()
        names = list(self.critical)
        for i in range(self.n_splits):
            flags: dict[str, list[str]] = {}
            for name in names:
                role = self.roles[name]
                crit = self.critical[name][i]
                if role is not None and crit > tolerance_of(role, tolerances, name):
                    flags.setdefault(role, []).append(name)
            measured = {r for r in self.roles.values() if r is not None}
            out[decide(flags, measured).verdict] += 1
        return out

    def table(self) -> str:
        w = max([len(n) for n in self.critical] + [6]) + 2
        lines = [f"{'metric':<{w}}{'role':<12}{'q50':>9}{'q99':>9}{'max':>9}{'flagged':>9}"]
        for name, values in self.critical.items():
            lines.append(
                f"{name:<{w}}{self.roles[name] or '-':<12}{self.quantile(name, 0.5):>9.4f}"
                f"{self.quantile(name, 0.99):>9.4f}{max(values, default=math.nan):>9.4f}"
                f"{self.flags[name]:>9d}"
            )
        lines.append(
            f"healthy {self.verdicts['healthy']}/{self.n_splits}, "
            f"early {self.verdicts['early']}, late {self.verdicts['late']}"
        )
        return "\n".join(lines)


def calibrate(
    *,
    corpus: str = "kjv",
    n_splits: int = 100,
    n_per_half: int = 1000,
    metrics: Sequence[str] | None = None,
    n_boot: int = 200,
    n_boot_expensive: int = 30,
    seed: int = 0,
    tolerances: dict[str, float] | None = None,
    **measure_kwargs: Any,
) -> CalibrationReport:
    """Measure ``n_splits`` random halves of ``corpus`` against each other.

    ``tolerances`` are those used for the verdicts (default: the calibrated ones); the critical
    tolerances do not depend on them. ``measure_kwargs`` go to ``measure`` (for example
    ``embeddings=True, cache_dir=...`` with ``embedding.*`` metrics).
    """
    records, kind = corpus_records(corpus)
    names = list(metrics) if metrics is not None else default_metric_names(kind)
    report = CalibrationReport(corpus, n_splits, n_per_half)
    seeds = np.random.SeedSequence(seed).spawn(n_splits)
    for ss in seeds:
        split_rng, measure_rng = np.random.default_rng(ss).spawn(2)
        ref, cand = random_halves(records, n_per_half, split_rng)
        result = measure(
            ref, cand, kind=kind, metrics=names, rng=measure_rng, n_boot=n_boot,
            n_boot_expensive=n_boot_expensive, tolerances=tolerances, **measure_kwargs,
        )  # fmt: skip
        report.verdicts[result.verdict] += 1
        for name, m in result.metrics.items():
            report.roles[name] = m.role
            report.critical.setdefault(name, []).append(m.critical_tolerance)
            report.change.setdefault(name, []).append(m.change)
            report.flags[name] += int(m.flagged)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=CORPORA, default="kjv")
    parser.add_argument("--splits", type=int, default=100)
    parser.add_argument("--per-half", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--n-boot-expensive", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metrics", default=None, help="comma-separated registry names")
    parser.add_argument("--out", default=None, help="write the raw figures to this JSON file")
    parser.add_argument("--embeddings", action="store_true", help="embed text (embedding.*)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder")
    args = parser.parse_args(argv)
    names = args.metrics.split(",") if args.metrics else None
    report = calibrate(
        corpus=args.corpus, n_splits=args.splits, n_per_half=args.per_half, metrics=names,
        n_boot=args.n_boot, n_boot_expensive=args.n_boot_expensive, seed=args.seed,
        **({"embeddings": True, "cache_dir": args.cache_dir} if args.embeddings else {}),
    )  # fmt: skip
    print(report.table())
    if args.out:
        raw = {
            "corpus": report.corpus, "n_splits": report.n_splits, "roles": report.roles,
            "critical": report.critical, "change": report.change,
        }  # fmt: skip
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(raw, fh)
    for role in ROLES:
        print(f"max critical tolerance, {role}: {report.role_maximum(role):.4f}")


if __name__ == "__main__":  # pragma: no cover
    main()
