"""Bootstrap of count-based text metrics: vectorised kernels against resampling the corpus.

The peer is the straightforward bootstrap: for every replicate, rebuild the resampled corpus
and call the metric on it (``2 * n_boot`` calls per metric, each re-tokenizing its documents);
``measure`` does exactly this for metrics without a kernel. Ours computes every replicate at
once from weighted count tables (``modelcollapse.measure.kernels``). Both run on the same
replicate indices; the script checks that the values agree and prints the speed ratio.

Run: .venv/bin/python benchmarks/measure_bootstrap.py [--docs 1000] [--n-boot 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modelcollapse.data.bundled import kjv
from modelcollapse.measure.arms import one_sample_layout, two_sample_layout
from modelcollapse.measure.evaluate import evaluate, text_tables
from modelcollapse.measure.kernels import TEXT_KERNELS, text_kernel
from modelcollapse.metrics.registry import get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    verses = [d.text for d in kjv()]
    perm = np.random.default_rng(args.seed).permutation(len(verses))
    ref = [verses[i] for i in perm[: args.docs]]
    cand = [verses[i] for i in perm[args.docs : 2 * args.docs]]
    layouts = {
        False: one_sample_layout(ref, cand, args.n_boot, np.random.default_rng(1)),
        True: two_sample_layout(ref, cand, args.n_boot, np.random.default_rng(2)),
    }
    start = time.perf_counter()
    tables = {k: text_tables(v) for k, v in layouts.items()}
    build = time.perf_counter() - start
    total_ours, total_peer = build, 0.0
    print(f"{args.docs} vs {args.docs} KJV verses, {args.n_boot} replicates")
    print(f"{'metric':<18}{'peer s':>9}{'ours s':>9}{'ratio':>8}{'max |diff|':>12}")
    for name in sorted(TEXT_KERNELS):
        spec = get(name, "text")
        layout = layouts[spec.needs_reference]
        kernel = text_kernel(name, spec.fn)
        t0 = time.perf_counter()
        peer = evaluate(spec, "text", layout, n_boot=args.n_boot, seed=0)
        t1 = time.perf_counter()
        ours = evaluate(
            spec, "text", layout, n_boot=args.n_boot, seed=0, kernel=kernel,
            tables=tables[spec.needs_reference],
        )  # fmt: skip
        t2 = time.perf_counter()
        diff = np.nanmax(np.abs(np.r_[peer.candidate_reps - ours.candidate_reps,
                                      peer.reference_reps - ours.reference_reps]))  # fmt: skip
        total_peer += t1 - t0
        total_ours += t2 - t1
        print(f"{name:<18}{t1 - t0:>9.2f}{t2 - t1:>9.3f}{(t1 - t0) / (t2 - t1):>8.0f}{diff:>12.1e}")
    print(f"count tables built once: {build:.2f} s")
    print(f"all kernels: peer {total_peer:.1f} s, ours {total_ours:.2f} s, "
          f"ratio {total_peer / total_ours:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
