"""The training-mix builder: cap the synthetic share, keep real data, drop duplicates.

:func:`build_mix` takes documents labelled by ``metadata["provenance"]["source"]`` (``human``,
``synthetic`` or ``unknown``) and returns the mix, every document it left out (each with its
reason) and a manifest. Steps, in order:

1. **Roles.** ``human`` documents are real data; ``synthetic`` ones count against the cap.
   ``unknown`` follows ``unknown_as``: ``"synthetic"`` (the default, conservative: a document of
   unknown origin may be generated, so it counts against the cap), ``"human"``, or ``"exclude"``
   (reason ``unknown_source``). A document without a provenance dict, or with another source, is
   a :class:`~modelcollapse.errors.DataError`: the builder cannot guess.
2. **Duplicates** (``dedup``). Documents are visited human first, then synthetic, each group in
   input order, and the first of a set of duplicates is kept, so a synthetic copy of a human text
   goes, never the human one. ``"exact"``: same :func:`~modelcollapse.guard.normalize.normalized_hash`
   (reason ``duplicate_exact``). ``"near"``: exact, then MinHash LSH within the mix
   (:mod:`modelcollapse.guard.minhash`; reason ``duplicate_near`` when the estimated Jaccard
   similarity of character 5-shingles with an earlier kept document is ``>= near_threshold``).
   LSH bands are tuned for recall (:func:`~modelcollapse.guard.minhash.optimal_bands` with
   false-negative weight 0.95): a pair exactly at the threshold becomes a candidate with
   probability ``1 - (1 - t^r)^b`` (0.9 to 0.97 for thresholds 0.5 to 0.9, reported in the
   manifest as ``lsh.recall_at_threshold``), more similar pairs more surely; every candidate is
   then verified on its estimated similarity, so near-duplicate removal is best effort but
   never removes a pair estimated below the threshold.
3. **Counts.** With ``H`` human and ``S`` synthetic documents left, ``cap = c`` and the real floor
   ``f``, let ``h_min = ceil(f * H)``. Without ``target_size``, the mix keeps ``h_min`` human
   documents (``f = 1``, the default, keeps all of them: the "accumulate" policy of Gerstgrasser
   et al. 2024, which avoids collapse) and ``min(S, a(h_min))`` synthetic ones, where
   ``a(h) = max{s : s / (h + s) <= c}`` is the most synthetic documents ``h`` human ones allow.
   With ``target_size = N`` (``N >= h_min``), the mix takes as many synthetic documents as the cap
   allows in ``N``, ``min(S, floor(c N))``, and fills the rest with human documents; if that
   would put fewer than ``h_min`` human documents in, the floor wins and synthetic ones give way;
   if there are too few human documents, the mix is smaller than ``N`` (``target_shortfall``).
   Human documents left out are chosen at random (reason ``real_floor``, or ``target_size``).
4. **Which synthetic documents.** At random, or with ``favour_rare`` by decreasing *rare-word
   score* (tail preservation: collapse loses the tails of the distribution first, Shumailov et
   al. 2024), ties at random. Words are lowercase ``\\w+`` runs; a word is *rare* when it occurs
   in at least one and at most ``max(1, floor(rare_fraction * H))`` human documents, and a
   document's score is the sum over its distinct rare words of ``log(H / df(w))``, the inverse
   document frequency in the human pool. Words no human document contains score nothing: they
   are no evidence of the real tail (a generator's misspellings would otherwise win). Synthetic
   documents left out get reason ``synthetic_cap`` (or ``target_size`` when the size bound, not
   the cap, was the one that bound).

**Guarantees.** The cap is checked in exact integer arithmetic: with ``c = p / q`` the fraction
of the shortest decimal that rounds to the given float (``0.1`` is ``1/10``, not the binary
``0.1000000000000000055...``), the mix satisfies ``n_syn * q <= p * (n_human + n_syn)``; since
rounding is monotone the float ``n_syn / n_total <= c`` holds too. ``c = 0`` admits no synthetic
document; ``c = 1`` admits all. ``len(mix) + len(excluded) == len(input)`` always, and every
excluded document carries ``metadata["exclusion"] = {"step": "mix", "reason": ..., ...}`` with
its metadata (provenance included) otherwise untouched. For a given ``rng`` the result is
identical run to run; the mix keeps input order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelcollapse.data.document import Document
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.normalize import normalized_hash
from modelcollapse.rng import as_generator

__all__ = ["MixResult", "allowed_synthetic", "build_mix", "rare_word_scores"]

Dedup = Literal["exact", "near", "none"]
UnknownAs = Literal["synthetic", "human", "exclude"]
STEP = "mix"
_WORD = re.compile(r"\w+")
_NONE_KEY = "(none)"  # manifest key for a missing generator / generation
NUM_PERM = 128  # MinHash permutations for near-duplicate detection (estimate sd <= 0.045)


@dataclass
class MixResult:
    """The mix, the excluded documents (each with ``metadata["exclusion"]``) and the manifest."""

    documents: list[Document]
    excluded: list[Document]
    manifest: dict[str, Any] = field(default_factory=dict)

    def write(
        self,
        out: str | Path,
        *,
        exclusions: str | Path,
        manifest: str | Path | None = None,
    ) -> None:
        """Write the mix and the exclusions (``.jsonl``/``.jsonl.gz``/``.parquet``, by extension)
        and, when given, the manifest as JSON. Each file is written atomically."""
        import json

        from modelcollapse.data.writers import atomic_path

        paths = [Path(out).expanduser(), Path(exclusions).expanduser()]
        if manifest is not None:
            paths.append(Path(manifest).expanduser())
        if len({p.resolve() for p in paths}) != len(paths):
            raise InvalidParameterError(
                f"expected distinct output files, got {list(map(str, paths))}"
            )
        _writer(paths[0])(self.documents, paths[0])
        _writer(paths[1])(self.excluded, paths[1])
        if manifest is not None:
            with atomic_path(paths[2]) as tmp:
                tmp.write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")


def _writer(path: Path) -> Any:
    from modelcollapse.data.writers import write_jsonl, write_parquet

    name = path.name.lower()
    if name.endswith(".parquet"):
        return write_parquet
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        return write_jsonl
    raise InvalidParameterError(
        f"expected a .jsonl, .jsonl.gz, .ndjson or .parquet path, got {path.name!r}"
    )


# -- parameters ------------------------------------------------------------------------------------
def _fraction(name: str, value: Any) -> Fraction:
    """A number in [0, 1] as the exact fraction of its shortest decimal representation."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameterError(f"{name}: expected a number in [0, 1], got {value!r}")
    x = float(value)
    if not math.isfinite(x) or not 0.0 <= x <= 1.0:
        raise InvalidParameterError(f"{name}: expected a number in [0, 1], got {value!r}")
    return Fraction(repr(x))


def allowed_synthetic(n_human: int, cap: float) -> int | None:
    """``max{s : s / (n_human + s) <= cap}`` in exact arithmetic; None when unbounded (cap 1).

    ``s / (h + s) <= p/q``  <=>  ``s (q - p) <= p h``, so ``s = floor(p h / (q - p))``.
    """
    c = _fraction("max_synthetic_fraction", cap)
    if c == 1:
        return None
    return (c.numerator * int(n_human)) // (c.denominator - c.numerator)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidParameterError(
            f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
        )


def _source(doc: Any, index: int) -> str:
    if not isinstance(doc, Document):
        raise InvalidParameterError(
            f"document {index}: expected a Document, got {type(doc).__name__}"
        )
    if not isinstance(doc.text, str):
        raise DataError(f"document {doc.id!r}: expected str text, got {type(doc.text).__name__}")
    prov = doc.metadata.get("provenance") if isinstance(doc.metadata, dict) else None
    if not isinstance(prov, dict):
        raise DataError(
            f"document {doc.id!r} (input {index}): expected metadata['provenance'] to be a dict "
            f"with a source, got {type(prov).__name__}; label the pool (read it with "
            "read_documents, which marks unlabelled records source 'unknown')"
        )
    source = prov.get("source")
    if source not in ("human", "synthetic", "unknown"):
        raise DataError(
            f"document {doc.id!r} (input {index}): expected provenance source in "
            f"['human', 'synthetic', 'unknown'], got {source!r}"
        )
    return str(source)


# -- deduplication ---------------------------------------------------------------------------------
def _dedup(
    docs: list[Document],
    order: list[int],
    mode: str,
    threshold: float,
    drop: dict[int, dict[str, Any]],
) -> list[int]:
    """Indices of ``order`` that survive deduplication (in that order); drops go to ``drop``."""
    if mode == "none":
        return list(order)
    first: dict[str, int] = {}
    kept: list[int] = []
    for i in order:
        h = normalized_hash(docs[i].text)
        if h in first:
            drop[i] = {"reason": "duplicate_exact", "duplicate_of": docs[first[h]].id}
        else:
            first[h] = i
            kept.append(i)
    if mode == "exact" or len(kept) < 2:
        return kept
    return _near_dedup(docs, kept, threshold, drop)


def lsh_bands(threshold: float) -> tuple[int, int]:
    """``(bands, rows)`` for near-duplicate candidates: recall first (false negatives weigh
    0.95), since every candidate is verified on its estimated similarity afterwards."""
    from modelcollapse.guard.minhash import optimal_bands

    return optimal_bands(
        threshold, NUM_PERM, false_positive_weight=0.05, false_negative_weight=0.95
    )


def _near_dedup(
    docs: list[Document], order: list[int], threshold: float, drop: dict[int, dict[str, Any]]
) -> list[int]:
    from modelcollapse.guard.minhash import MinHasher, band_hashes, estimated_jaccard

    hasher = MinHasher(num_perm=NUM_PERM, shingle="char", k=5, seed=1)
    sigs = np.concatenate(
        [
            hasher.signatures([docs[i].text for i in order[lo : lo + 4096]])
            for lo in range(0, len(order), 4096)
        ]
    )
    bands, rows = lsh_bands(threshold)
    keys = band_hashes(sigs, bands, rows)
    buckets: dict[tuple[int, int], list[int]] = {}
    kept: list[int] = []
    for pos, i in enumerate(order):
        cands = {c for b, v in enumerate(keys[pos].tolist()) for c in buckets.get((b, v), ())}
        if cands:
            cand = np.fromiter(sorted(cands), dtype=np.int64, count=len(cands))
            est = estimated_jaccard(
                sigs[cand], np.broadcast_to(sigs[pos], (cand.size, sigs.shape[1]))
            )
            best = int(np.argmax(est))
            if est[best] >= threshold:
                drop[i] = {
                    "reason": "duplicate_near",
                    "duplicate_of": docs[order[int(cand[best])]].id,
                    "jaccard": float(est[best]),
                }
                continue
        kept.append(i)
        for b, v in enumerate(keys[pos].tolist()):
            buckets.setdefault((b, v), []).append(pos)
    return kept


# -- tail preservation -----------------------------------------------------------------------------
def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def rare_word_scores(
    human_texts: Sequence[str], texts: Sequence[str], *, rare_fraction: float = 0.01
) -> np.ndarray:
    """The rare-word score of each of ``texts`` against the human pool (module docstring, step 4).

    ``score(d) = sum over distinct words w of d with 1 <= df(w) <= max(1, floor(rho H)) of
    log(H / df(w))``, ``df`` the number of the ``H`` human documents containing ``w``.
    """
    rho = _fraction("rare_fraction", rare_fraction)
    n_h = len(human_texts)
    df: Counter[str] = Counter()
    for t in human_texts:
        df.update(_words(t))
    max_df = max(1, (rho.numerator * n_h) // rho.denominator)
    weight = {w: math.log(n_h / c) for w, c in df.items() if c <= max_df}
    return np.array(
        [math.fsum(weight.get(w, 0.0) for w in sorted(_words(t))) for t in texts],
        dtype=np.float64,
    )


# -- the builder -----------------------------------------------------------------------------------
def build_mix(
    docs: Iterable[Document],
    *,
    max_synthetic_fraction: float,
    rng: np.random.Generator | int,
    real_floor: float = 1.0,
    dedup: Dedup = "exact",
    near_threshold: float = 0.8,
    favour_rare: bool = False,
    rare_fraction: float = 0.01,
    target_size: int | None = None,
    unknown_as: UnknownAs = "synthetic",
) -> MixResult:
    """Build a training mix whose synthetic share never exceeds ``max_synthetic_fraction``.

    See the module docstring for the definition of every step and the guarantees.
    ``docs`` may come from several pools (concatenate them); each needs a provenance source.
    """
    cap = _fraction("max_synthetic_fraction", max_synthetic_fraction)
    floor = _fraction("real_floor", real_floor)
    _check_choice("dedup", dedup, ("exact", "near", "none"))
    _check_choice("unknown_as", unknown_as, ("synthetic", "human", "exclude"))
    if dedup == "near":
        t = near_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 < float(t) < 1.0:
            raise InvalidParameterError(
                f"near_threshold: expected a number in (0, 1), got {near_threshold!r}"
            )
    if not isinstance(favour_rare, bool | np.bool_):
        raise InvalidParameterError(f"favour_rare: expected a bool, got {favour_rare!r}")
    _fraction("rare_fraction", rare_fraction)
    if target_size is not None and (
        isinstance(target_size, bool)
        or not isinstance(target_size, int | np.integer)
        or target_size < 1
    ):
        raise InvalidParameterError(
            f"target_size: expected None or an integer >= 1, got {target_size!r}"
        )
    gen = as_generator(rng)

    docs = list(docs)
    sources = [_source(d, i) for i, d in enumerate(docs)]
    drop: dict[int, dict[str, Any]] = {}
    human: list[int] = []
    synthetic: list[int] = []
    for i, s in enumerate(sources):
        role = unknown_as if s == "unknown" else s
        if role == "exclude":
            drop[i] = {"reason": "unknown_source"}
        else:
            (human if role == "human" else synthetic).append(i)
    n_hum_before = len(human)
    survivors = set(_dedup(docs, human + synthetic, dedup, float(near_threshold), drop))
    human = [i for i in human if i in survivors]
    synthetic = [i for i in synthetic if i in survivors]

    # -- how many of each (exact integer arithmetic) --
    n_hum_avail, n_syn_avail = len(human), len(synthetic)
    h_min = -((-floor.numerator * n_hum_avail) // floor.denominator)  # ceil(f H)
    hum_reason, syn_reason = "real_floor", "synthetic_cap"
    shortfall = 0
    if target_size is None:
        n_h = h_min
        allowed = allowed_synthetic(n_h, float(cap))
        n_s = n_syn_avail if allowed is None else min(n_syn_avail, allowed)
    else:
        size = int(target_size)
        if h_min > size:
            raise InvalidParameterError(
                f"target_size: expected at least the real-data floor ceil({float(floor)} x "
                f"{n_hum_avail} human documents) = {h_min}, got {size}; lower real_floor or "
                "raise target_size"
            )
        hum_reason = "target_size"
        max_syn_in_size = (cap.numerator * size) // cap.denominator  # floor(c N)
        n_s = min(n_syn_avail, max_syn_in_size)
        syn_reason = "synthetic_cap" if max_syn_in_size < n_syn_avail else "target_size"
        n_h = size - n_s
        if n_h < h_min:  # the floor wins; synthetic gives way (the size bound binds)
            n_h, n_s, syn_reason = h_min, size - h_min, "target_size"
        elif n_h > n_hum_avail:  # too few human documents: the cap bounds synthetic
            n_h = n_hum_avail
            allowed = allowed_synthetic(n_h, float(cap))
            n_s = n_syn_avail if allowed is None else min(n_syn_avail, allowed)
            n_s = min(n_s, size - n_h)  # never binds (see the docstring); kept as a guard
            syn_reason = "synthetic_cap"
            shortfall = size - n_h - n_s
    if n_s * cap.denominator > cap.numerator * (n_h + n_s):  # pragma: no cover - invariant
        raise AssertionError("mix builder: synthetic cap exceeded")

    # -- which ones --
    hum_keep = set(human)
    if n_h < n_hum_avail:
        hum_keep = {human[j] for j in gen.permutation(n_hum_avail)[:n_h].tolist()}
    for i in human:
        if i not in hum_keep:
            drop[i] = {"reason": hum_reason}
    tie = gen.permutation(n_syn_avail)
    if favour_rare and n_s < n_syn_avail:
        scores = rare_word_scores(
            [docs[i].text for i in human],
            [docs[i].text for i in synthetic],
            rare_fraction=rare_fraction,
        )
        ranked = np.lexsort((tie, -scores))  # score descending, random tie-break
    else:
        scores = None
        ranked = tie
    syn_keep = {synthetic[j] for j in ranked[:n_s].tolist()}
    for j, i in enumerate(synthetic):
        if i not in syn_keep:
            drop[i] = {"reason": syn_reason}
            if scores is not None:
                drop[i]["rare_score"] = float(scores[j])

    mix = [d for i, d in enumerate(docs) if i not in drop]
    excluded = [
        Document(id=docs[i].id, text=docs[i].text,
                 metadata={**docs[i].metadata, "exclusion": {"step": STEP, **drop[i]}})
        for i in sorted(drop)
    ]  # fmt: skip
    if len(mix) + len(excluded) != len(docs):  # pragma: no cover - invariant
        raise AssertionError("mix builder: kept + excluded != input")
    manifest = _manifest(
        docs, sources, drop, n_h, n_s, shortfall,
        settings={
            "max_synthetic_fraction": float(max_synthetic_fraction),
            "real_floor": float(real_floor),
            "dedup": dedup,
            "near_threshold": float(near_threshold) if dedup == "near" else None,
            "lsh": _lsh_settings(float(near_threshold)) if dedup == "near" else None,
            "favour_rare": bool(favour_rare),
            "rare_fraction": float(rare_fraction) if favour_rare else None,
            "target_size": None if target_size is None else int(target_size),
            "unknown_as": unknown_as,
        },
        extra={"n_human_unique": n_hum_avail, "n_synthetic_unique": n_syn_avail,
               "n_human_input": n_hum_before, "human_floor": h_min},
    )  # fmt: skip
    return MixResult(mix, excluded, manifest)


def _lsh_settings(threshold: float) -> dict[str, Any]:
    b, r = lsh_bands(threshold)
    return {
        "num_perm": NUM_PERM,
        "bands": b,
        "rows": r,
        "recall_at_threshold": 1.0 - (1.0 - threshold**r) ** b,
    }


def _key(value: Any) -> str:
    return _NONE_KEY if value is None else str(value)


def _counts(docs: list[Document], sources: list[str], idx: Iterable[int]) -> dict[str, Any]:
    by_source: Counter[str] = Counter()
    by_generator: Counter[str] = Counter()
    by_generation: Counter[str] = Counter()
    for i in idx:
        prov = docs[i].metadata["provenance"]
        by_source[sources[i]] += 1
        by_generator[_key(prov.get("generator"))] += 1
        by_generation[_key(prov.get("generation"))] += 1
    return {
        "by_source": dict(sorted(by_source.items())),
        "by_generator": dict(sorted(by_generator.items())),
        "by_generation": dict(sorted(by_generation.items())),
    }


def _manifest(
    docs: list[Document],
    sources: list[str],
    drop: dict[int, dict[str, Any]],
    n_h: int,
    n_s: int,
    shortfall: int,
    *,
    settings: dict[str, Any],
    extra: dict[str, int],
) -> dict[str, Any]:
    n = len(docs)
    kept = [i for i in range(n) if i not in drop]
    reasons = Counter(d["reason"] for d in drop.values())
    total = n_h + n_s
    return {
        "n_input": n,
        "n_mix": len(kept),
        "n_excluded": len(drop),
        "n_human": n_h,
        "n_synthetic": n_s,  # documents counted against the cap (unknown ones included by default)
        "synthetic_share": (n_s / total) if total else None,
        "max_synthetic_fraction": settings["max_synthetic_fraction"],
        "target_shortfall": shortfall,
        "duplicates_removed": {
            "exact": reasons.get("duplicate_exact", 0),
            "near": reasons.get("duplicate_near", 0),
        },
        "excluded_by_reason": dict(sorted(reasons.items())),
        "input": _counts(docs, sources, range(n)),
        "mix": _counts(docs, sources, kept),
        **extra,
        "settings": settings,
    }
