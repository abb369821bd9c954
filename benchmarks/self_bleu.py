"""Self-BLEU: our count-table computation against NLTK's pairwise ``sentence_bleu`` loop.

The peer is how Self-BLEU is computed in research code (Texygen, Zhu et al. 2018): for each
document, NLTK's ``sentence_bleu`` with every other document as references, uniform BLEU-4
weights and ``SmoothingFunction().method1``, then the mean. NLTK recounts all references for
every hypothesis (O(N²·L)); ours builds one n-gram count table per order (O(T log T)). Both
tokenize with ``modelcollapse.data.tokenize.tokenize``. The script prints both values, the
largest per-document difference (it must be below 1e-9) and the speed ratio.

Run: .venv/bin/python benchmarks/self_bleu.py [--docs 1000]
Needs: pip install nltk
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.tokenize import tokenize
from modelcollapse.metrics import self_bleu_scores


def peer(tokenized: list[list[str]]) -> np.ndarray:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    return np.array(
        [
            sentence_bleu(tokenized[:i] + tokenized[i + 1 :], hyp, smoothing_function=smooth)
            for i, hyp in enumerate(tokenized)
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5, help="best-of for our (fast) side")
    args = ap.parse_args()

    train, _ = kjv_split()
    docs = [d.text for d in train[: args.docs]]

    t_ours = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = self_bleu_scores(docs, tokenizer="words")  # the peer's token lists: tokenize()
        t_ours = min(t_ours, time.perf_counter() - t0)

    t0 = time.perf_counter()
    theirs = peer([tokenize(d) for d in docs])
    t_peer = time.perf_counter() - t0

    print(f"{len(docs)} KJV verses, {sum(len(tokenize(d)) for d in docs)} tokens")
    print(f"self-BLEU ours {ours.mean():.12f}, nltk {theirs.mean():.12f}")
    print(f"max |difference| per document: {np.abs(ours - theirs).max():.2e}")
    print(f"ours {t_ours:.4f} s, nltk pairwise {t_peer:.2f} s, speed ratio {t_peer / t_ours:.0f}x")


if __name__ == "__main__":
    main()
