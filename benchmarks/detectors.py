"""Human-vs-AI detectors on KJV verses against n-gram continuations of KJV prompts.

Data (:mod:`modelcollapse.guard.eval_data`): each synthetic document is a trigram model's
continuation of a verse's first 5 tokens (DetectGPT's protocol), the human document the verse
itself, both in the same surface form. Supervised detectors train on the *train* split (human
verses and continuations of their prompts); evaluation uses the *held-out* split, whose human
verses are cut into two halves: the threshold at a target FPR is chosen on the first
(:func:`~modelcollapse.guard.calibration.calibrate`) and the FPR it really reaches is measured
on the second. AUROC and the TPRs use all held-out documents.

A detector is a ``(name, score)`` pair, ``score(docs) -> ndarray`` (higher = more likely AI).
Supervised detectors come from factories that see the training set; add zero-shot ones (which
need no training) to :data:`DETECTOR_FACTORIES` the same way.

The peer is scikit-learn's usual text pipeline: ``TfidfVectorizer`` (character 2-5-grams in
word boundaries, sublinear tf) + ``LogisticRegression``; the printed ratio compares fit + score
time with ours in the same run.

``--generator transformer`` replaces the trigram model by the ~1M-parameter transformer of
``benchmarks/transformer_kjv.py`` fitted on the same training verses (minutes on 2 cores).

Run: .venv/bin/python benchmarks/detectors.py [--temperatures 1.0 0.8] [--n-train 3000]
     [--generator ngram|transformer] [--transformer-steps 2000] [--save-transformer T.safetensors]
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.guard.calibration import calibrate
from modelcollapse.guard.classifier import NGramClassifier
from modelcollapse.guard.eval_data import (
    Continuer,
    DetectionSet,
    build_detection_set,
    fit_kjv_ngram,
    ngram_continuer,
    transformer_continuer,
)

Score = Callable[[list[str]], np.ndarray]
Detector = tuple[str, Score]


def ngram_lr(train: DetectionSet) -> Detector:
    clf = NGramClassifier().fit(train.human, train.synthetic)
    return "ngram-lr (ours)", clf.score


def tfidf_lr_peer(train: DetectionSet) -> Detector:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=1000),
    )
    pipe.fit(train.docs, train.labels)
    return "tfidf-lr (sklearn peer)", lambda docs: pipe.predict_proba(docs)[:, 1]


# factories: training set -> detector; zero-shot detectors ignore the argument
DETECTOR_FACTORIES: list[Callable[[DetectionSet], Detector]] = [ngram_lr, tfidf_lr_peer]


# Zero-shot detectors over SmolLM2-135M (modelcollapse.guard.zero_shot), added by the "detectors"
# helper. Opt-in with MODELCOLLAPSE_BENCH_ZERO_SHOT=1: on 2 CPU cores they score about 5-8
# documents/s each, so use --n-eval 300 or so (benchmarks/zero_shot.py also has SmolLM2's own
# continuations). One loaded model serves all four; Binoculars uses it as observer and performer.
@functools.cache
def _smollm2():
    from modelcollapse.generators.hf import HuggingFaceLM

    return HuggingFaceLM(model="smollm2-135m", steps=0).fit(
        ["unused"], rng=np.random.default_rng(0)
    )


def zero_shot(method: str) -> Callable[[DetectionSet], Detector]:
    def factory(train: DetectionSet) -> Detector:  # zero-shot: the training set is not used
        from modelcollapse.guard.zero_shot import ZeroShotDetector

        lm = _smollm2()
        performer = lm if method == "binoculars" else None
        det = ZeroShotDetector(lm, method=method, performer=performer, max_length=128)
        return f"{method} (SmolLM2, zero-shot)", det.score

    return factory


if os.environ.get("MODELCOLLAPSE_BENCH_ZERO_SHOT") == "1":
    DETECTOR_FACTORIES += [
        zero_shot(m) for m in ("loglik", "logrank", "fast-detectgpt", "binoculars")
    ]


# the ~1M-parameter transformer of benchmarks/transformer_kjv.py (benchmarks/zero_shot.py loads it)
TRANSFORMER_PARAMS = dict(
    n_layer=4, n_head=4, n_embd=128, block_size=128, vocab_size=2000, dropout=0.1,
    weight_decay=1.0, batch_size=32, lr=3e-3, max_new_tokens=100, device="cpu",
)  # fmt: skip


def transformer_continuers(steps: int, seed: int, save: str | None) -> Callable[[float], Continuer]:
    """The transformer fitted on every KJV training verse (the split the detectors train on),
    continuing prompts at temperature ``T``; its state is saved to ``save`` (safetensors)."""
    from modelcollapse.generators.transformer import Transformer
    from modelcollapse.loop.store import atomic_save_safetensors

    train, _ = kjv_split()
    t0 = time.perf_counter()
    model = Transformer(**TRANSFORMER_PARAMS, steps=steps).fit(
        [d.text for d in train], rng=np.random.default_rng(seed)
    )
    print(f"transformer fitted on {len(train)} verses in {time.perf_counter() - t0:.0f} s")
    if save:
        atomic_save_safetensors(Path(save), model.state_dict())
    return lambda temp: transformer_continuer(model, temperature=temp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8])
    ap.add_argument("--n-train", type=int, default=3000, help="training documents per class")
    ap.add_argument("--n-eval", type=int, default=3000, help="held-out documents per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generator", choices=("ngram", "transformer"), default="ngram")
    ap.add_argument("--transformer-steps", type=int, default=2000)
    ap.add_argument("--save-transformer", default=None, help="save its state (safetensors)")
    args = ap.parse_args()
    if args.generator == "ngram":
        model = fit_kjv_ngram(3)
        label = "trigram"

        def continuer_at(temp: float) -> Continuer:
            return ngram_continuer(model, temperature=temp)
    else:
        continuer_at = transformer_continuers(
            args.transformer_steps, args.seed, args.save_transformer
        )
        label = "transformer"
    rows = []
    for temp in args.temperatures:
        s_train, s_eval, s_split = np.random.SeedSequence([args.seed, round(temp * 1000)]).spawn(3)
        cont = continuer_at(temp)
        train = build_detection_set(
            cont, n_per_class=args.n_train, rng=np.random.default_rng(s_train), split="train"
        )
        test = build_detection_set(
            cont, n_per_class=args.n_eval, rng=np.random.default_rng(s_eval), split="heldout"
        )
        human, synthetic = test.human, test.synthetic
        order = np.random.default_rng(s_split).permutation(len(human))
        cal_idx, eval_idx = order[: len(order) // 2], order[len(order) // 2 :]
        for factory in DETECTOR_FACTORIES:
            t0 = time.perf_counter()
            name, score = factory(train)
            t_fit = time.perf_counter() - t0
            t0 = time.perf_counter()
            h, a = score(human), score(synthetic)
            t_score = time.perf_counter() - t0
            cal1 = calibrate(h[cal_idx], a, target_fpr=0.01, scores_human_eval=h[eval_idx])
            cal5 = calibrate(h[cal_idx], a, target_fpr=0.05, scores_human_eval=h[eval_idx])
            auc = calibrate(h, a).auroc
            rows.append(
                (temp, name, auc, cal1.tpr, cal1.fpr_eval, cal5.tpr, cal5.fpr_eval, t_fit, t_score)
            )
    print(
        f"train {args.n_train}/class (train split), evaluate {args.n_eval}/class (held-out split); "
        "thresholds on half the held-out human verses, FPR measured on the other half\n"
    )
    print(
        "| generator | detector | AUROC | TPR@1% | FPR (fresh) | TPR@5% | FPR (fresh) | fit s | score s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for temp, name, auc, t1, f1, t5, f5, tf, ts in rows:
        print(
            f"| {label} T={temp} | {name} | {auc:.3f} | {t1:.3f} | {f1:.3f} | {t5:.3f} | {f5:.3f} | {tf:.1f} | {ts:.1f} |"
        )
    by = {(r[0], r[1]): r[7] + r[8] for r in rows}
    for temp in args.temperatures:
        ours, peer = by.get((temp, "ngram-lr (ours)")), by.get((temp, "tfidf-lr (sklearn peer)"))
        if ours and peer:
            print(f"T={temp}: fit+score time, peer / ours = {peer / ours:.2f}x")


if __name__ == "__main__":
    main()
