"""Watermark detection speed: our vectorised z-test against per-token re-seeded permutations.

The peer is the reference implementation's way of scoring (Kirchenbauer et al. 2023,
``WatermarkDetector._score_sequence``): for every token, seed an RNG from ``hash_key * previous
token``, draw ``randperm(V)``, take its first ``gamma V`` entries as the green list and test the
token's membership (torch on one thread, its fastest setting on a CPU). We time the peer on ``--peer-tokens`` tokens (it is linear in T) and report
tokens/s. Ours is :func:`modelcollapse.guard.watermark_detect.detect` on all T tokens, with
``ignore_repeated=True`` (more work than the peer does), for both seedings.

Also printed: the robustness curve (mean z of watermarked n-gram text against the fraction of
words replaced by random vocabulary words) and the false-positive rate on human KJV verses.

Run: .venv/bin/python benchmarks/watermark.py [--vocab 50000] [--tokens 10000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from modelcollapse.guard.watermark import WatermarkConfig
from modelcollapse.guard.watermark_detect import detect

KEY = b"benchmark-key-not-secret-0123456789"


def peer_green_count(tokens: np.ndarray, vocab: int, gamma: float, hash_key: int) -> int:
    """Per-token re-seeded permutation (torch when installed, else numpy)."""
    size = int(gamma * vocab)
    green = 0
    try:
        import torch

        # one thread is the peer's best case: randperm's thread pool only adds overhead here
        torch.set_num_threads(1)
        gen = torch.Generator()
        for prev, tok in zip(tokens[:-1].tolist(), tokens[1:].tolist(), strict=True):
            gen.manual_seed(hash_key * prev)
            greenlist = torch.randperm(vocab, generator=gen)[:size]
            green += bool((greenlist == tok).any())
    except ImportError:
        for prev, tok in zip(tokens[:-1].tolist(), tokens[1:].tolist(), strict=True):
            greenlist = np.random.default_rng(hash_key * prev).permutation(vocab)[:size]
            green += bool((greenlist == tok).any())
    return green


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, size=args.tokens)
    peer_tokens = tokens[: args.peer_tokens + 1]
    t0 = time.perf_counter()
    peer_green_count(peer_tokens, args.vocab, 0.25, 15485863)
    peer_rate = args.peer_tokens / (time.perf_counter() - t0)
    print(f"V = {args.vocab}, T = {args.tokens} tokens, gamma = 0.25, h = 1")
    print(
        f"peer (re-seeded randperm per token, {args.peer_tokens} tokens): {peer_rate:,.0f} tokens/s"
    )
    for seeding in ("mix64", "hmac-sha256"):
        cfg = WatermarkConfig(KEY, seeding=seeding)
        t = best_time(lambda cfg=cfg: detect(tokens, cfg, ignore_repeated=True), args.repeats)
        rate = args.tokens / t
        print(
            f"ours ({seeding}, ignore_repeated): {rate:,.0f} tokens/s, "
            f"speed ratio {rate / peer_rate:,.0f}x"
        )
    cfg = WatermarkConfig(KEY)
    t = best_time(lambda: detect(tokens, cfg, window=200), args.repeats)
    print(f"ours (mix64, every window of 200): {args.tokens / t:,.0f} tokens/s")


def quality(args: argparse.Namespace) -> None:
    from modelcollapse.data.bundled import kjv
    from modelcollapse.data.tokenize import tokenize
    from modelcollapse.generators.ngram import NGram
    from modelcollapse.guard.watermark import BOS_WORD_CODE, word_codes
    from modelcollapse.guard.watermark_detect import detect_documents, detect_text

    verses = [d.text for d in kjv()]
    train, human = verses[:3000], verses[3000::10]
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=args.delta)
    zs = np.array([detect_text(v, "words", cfg).z for v in human])
    zs = zs[np.isfinite(zs)]
    print(
        f"human KJV verses: n = {zs.size}, mean z {zs.mean():+.3f}, sd {zs.std():.3f}, "
        f"FPR at z > 4: {np.mean(zs > 4):.4f}"
    )
    os.environ["MODELCOLLAPSE_BENCH_WM_KEY"] = KEY.decode()
    spec = {"key_env": "MODELCOLLAPSE_BENCH_WM_KEY", "gamma": 0.25, "delta": args.delta}
    rng = np.random.default_rng(1)
    docs = NGram(n=3, watermark=spec).fit(train).sample(400, rng=rng)
    # ~200-word texts: consecutive samples, each document scored after its own <s>
    texts: list[list[np.ndarray]] = [[]]
    for doc in docs:
        texts[-1].append(word_codes(tokenize(doc)))
        if sum(map(len, texts[-1])) >= 200:
            texts.append([])
    texts.pop()
    vocab = word_codes(sorted({w for v in train for w in tokenize(v)}))
    print(f"watermarked n-gram texts of >= 200 words (delta {args.delta}): {len(texts)}")
    for f in (0.0, 0.1, 0.2, 0.4):
        z = []
        for text in texts:
            attacked = []
            for codes in text:
                codes = codes.copy()
                hit = rng.random(codes.size) < f
                codes[hit] = vocab[rng.integers(0, vocab.size, int(hit.sum()))]
                attacked.append(codes)
            z.append(detect_documents(attacked, cfg, prefix=[BOS_WORD_CODE]).z)
        z = np.array(z)
        print(
            f"  substituted {f:.0%}: mean z {z.mean():6.2f}, min z {z.min():6.2f}, "
            f"detected at z > 4: {np.mean(z > 4):.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--peer-tokens", type=int, default=2_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--delta", type=float, default=2.0)
    ap.add_argument("--no-quality", action="store_true", help="speed only")
    args = ap.parse_args()
    speed(args)
    if not args.no_quality:
        quality(args)


if __name__ == "__main__":
    main()
