"""Word-level interpolated Kneser-Ney LMs: ours against NLTK's ``nltk.lm.KneserNeyInterpolated``.

Both are trigram models fitted on the same King James Bible verses, with the same tokens.
The script times fitting and scoring held-out verses, checks that both give finite perplexity,
and prints the speed ratios. (The two smooth differently at the lowest order, and NLTK uses a
single discount, so perplexities are close but not equal; we print both.)

Run: .venv/bin/python benchmarks/ngram_lm.py [--train 5000] [--heldout 500]
Needs: pip install nltk
"""

from __future__ import annotations

import argparse
import math
import time

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.tokenize import tokenize
from modelcollapse.generators.ngram import NGram


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=int, default=5000)
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--n", type=int, default=3)
    args = ap.parse_args()
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
    from nltk.util import ngrams

    train_docs, held_docs = kjv_split()
    train = [d.text for d in train_docs[: args.train]]
    held = [d.text for d in held_docs[: args.heldout]]

    t0 = time.perf_counter()
    ours = NGram(n=args.n).fit(train)
    lp = ours.log_prob(held)
    ppl_ours = math.exp(-lp.sum() / ours.token_counts(held).sum())
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    toks = [tokenize(t) for t in train]
    grams, vocab = padded_everygram_pipeline(args.n, toks)
    lm = KneserNeyInterpolated(args.n)
    lm.fit(grams, vocab)
    t_fit_peer = time.perf_counter() - t0
    # Score only held-out verses whose words are all in the vocabulary (NLTK gives -inf otherwise).
    known = [tokenize(t) for t in held if all(w in lm.vocab for w in tokenize(t))][:100]
    t0 = time.perf_counter()
    total, count = 0.0, 0
    for sent in known:
        padded = list(pad_both_ends(sent, n=args.n))
        for gram in ngrams(padded, args.n):
            total += lm.logscore(gram[-1], gram[:-1]) * math.log(2)
            count += 1
    t_score_peer = time.perf_counter() - t0
    ppl_peer = math.exp(-total / count)
    t0 = time.perf_counter()
    ours_known = [" ".join(s) for s in known]
    lp_k = ours.log_prob(ours_known)
    ppl_ours_known = math.exp(-lp_k.sum() / ours.token_counts(ours_known).sum())
    t_score_ours = time.perf_counter() - t0
    print(
        f"ours: fit + score {len(held)} docs in {t_ours:.2f} s, held-out perplexity {ppl_ours:.1f}"
    )
    print(
        f"nltk: fit {t_fit_peer:.2f} s; score {len(known)} in-vocabulary docs {t_score_peer:.2f} s"
    )
    print(
        f"on the same {len(known)} docs: perplexity ours {ppl_ours_known:.1f}, nltk {ppl_peer:.1f}"
    )
    print(f"scoring speed ratio (nltk / ours): {t_score_peer / max(t_score_ours, 1e-9):.0f}x")
    print(f"fit speed ratio (nltk fit / our fit+score): {t_fit_peer / t_ours:.1f}x")


if __name__ == "__main__":
    main()
