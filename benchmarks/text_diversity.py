"""Text diversity suite: ours against the ``diversity`` package (Shaib et al. 2024).

On the first 20,000 King James verses of the training split, both compute the package's three
corpus scores: gzip compression ratio, n-gram diversity (n = 1..4) and self-repetition (n = 4).
Our functions are called with the package's definitions, so the values must agree:

- n-gram diversity: ``tokenizer=lambda s: s.split(' ')`` and ``across_documents=True`` (the
  package joins the documents with spaces and splits on single spaces); it rounds to 3 decimals.
- self-repetition: ``tokenizer="whitespace"`` (``str.split()``, as the package).
- compression ratio: the package compresses twice (gzip of the gzip, see
  ``modelcollapse.metrics.functional.text_diversity``) and rounds; ours compresses once, so its
  value is slightly higher. The script also prints the package's double-compressed ratio
  recomputed directly, which must equal the package's value.

Where the time goes: compression is gzip itself on both sides (about 1x); the package's
self-repetition concatenates the per-document n-gram lists with ``sum(lists, [])``, which is
quadratic in the number of documents, so it dominates the package's time at 20,000 verses.

The script prints the values, each metric's time and the speed ratios, and our values under our
default definitions (word/punctuation tokens, n-grams within documents) for reference.

Run: .venv/bin/python benchmarks/text_diversity.py [--docs 20000]
Needs: pip install diversity==0.3.1 nltk (its ``__init__`` imports spacy, which it does not
declare; the three modules used here are loaded from the installed files without it).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from modelcollapse.data.bundled import kjv_split
from modelcollapse.metrics import compression_ratio, ngram_diversity, self_repetition


def load_diversity(module: str) -> ModuleType:
    """One module of the installed ``diversity`` package, without running its ``__init__``."""
    spec = importlib.util.find_spec("diversity")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("this benchmark needs: pip install diversity==0.3.1 nltk")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{module}.py"
    mod_spec = importlib.util.spec_from_file_location(f"_diversity_{module}", path)
    assert mod_spec is not None and mod_spec.loader is not None
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


def timed(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(value, best time in seconds over ``repeats`` runs)."""
    best, value = float("inf"), float("nan")
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return value, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3, help="best-of for our (fast) side")
    args = ap.parse_args()

    train, _ = kjv_split()
    docs = [d.text for d in train[: args.docs]]
    n_docs = len(docs)
    peer_cr = load_diversity("compression").compression_ratio
    peer_ngd = load_diversity("ngram_diversity").ngram_diversity_score
    peer_sr = load_diversity("self_repetition").self_repetition_score

    def space_split(text: str) -> list[str]:
        return text.split(" ")

    rows = [
        (
            "compression_ratio",
            lambda: compression_ratio(docs),
            lambda: peer_cr(docs),
        ),
        (
            "ngram_diversity",
            lambda: ngram_diversity(docs, tokenizer=space_split, across_documents=True),
            lambda: peer_ngd(docs),
        ),
        (
            "self_repetition",
            lambda: self_repetition(docs, tokenizer="whitespace"),
            lambda: peer_sr(docs, verbose=False),
        ),
    ]
    print(f"{n_docs} KJV verses, {sum(len(d.split()) for d in docs)} whitespace tokens")
    print(f"{'metric':<18} {'ours':>12} {'diversity':>12} {'ours s':>9} {'peer s':>9} {'ratio':>7}")
    total_ours = total_peer = 0.0
    for name, ours_fn, peer_fn in rows:
        v_ours, t_ours = timed(ours_fn, args.repeats)
        v_peer, t_peer = timed(peer_fn, 1)
        total_ours += t_ours
        total_peer += t_peer
        print(
            f"{name:<18} {v_ours:>12.6f} {v_peer:>12.6f} {t_ours:>9.3f} {t_peer:>9.3f} "
            f"{t_peer / t_ours:>6.1f}x"
        )
    print(f"{'suite':<18} {'':>12} {'':>12} {total_ours:>9.3f} {total_peer:>9.3f} "
          f"{total_peer / total_ours:>6.1f}x")  # fmt: skip

    # The package's compression ratio, recomputed: gzip.GzipFile('compressed.gz') around
    # gzip.compress(text) = 10-byte header + b"compressed\0" + raw deflate + 8-byte trailer.
    text = " ".join(docs).encode("utf-8")
    inner = gzip.compress(text)
    outer = 10 + len(b"compressed\0") + len(zlib.compress(inner, 9, wbits=-15)) + 8
    print(
        f"compression: single gzip {len(text)}/{len(inner)} = {len(text) / len(inner):.6f}; "
        f"double gzip {len(text)}/{outer} = {len(text) / outer:.6f} (the package's value, rounded)"
    )
    print(
        "our defaults (word/punctuation tokens, n-grams within documents): "
        f"ngram_diversity {ngram_diversity(docs):.6f}, self_repetition {self_repetition(docs):.6f}"
    )


if __name__ == "__main__":
    main()
