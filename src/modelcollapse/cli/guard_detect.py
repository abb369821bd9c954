"""``modelcollapse guard detect | train-classifier | estimate``: human-vs-AI scores and shares.

Scores follow :mod:`modelcollapse.guard`'s convention: higher means more likely AI-generated,
and a document is flagged when its score is strictly above the threshold. A threshold is given
(``--threshold``) or chosen at a false-positive rate on held-out human text (``--calibrate``,
:func:`modelcollapse.guard.calibration.threshold_at_fpr`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer

from modelcollapse.cli.guard_io import (
    ON_ERROR_HELP,
    OnError,
    check_distinct,
    check_output,
    echo_json,
    fmt,
    read_docs,
    write_docs,
)
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.verdict import Scorer, annotate


class Method(StrEnum):
    loglik = "loglik"
    logrank = "logrank"
    fast_detectgpt = "fast-detectgpt"
    binoculars = "binoculars"
    classifier = "classifier"


METHOD_HELP = (
    "Detector: zero-shot with a local causal LM (loglik, logrank, fast-detectgpt, binoculars "
    "with --performer) or the supervised n-gram classifier (classifier, with --classifier)."
)
MODEL_HELP = "Scoring LM: 'smollm2-135m' (packaged), a local model directory or a .gguf file."


def make_scorer(
    method: Method,
    *,
    model: str,
    performer: str | None,
    classifier: Path | None,
    max_length: int,
    batch_size: int,
    device: str,
) -> tuple[Scorer, dict[str, Any]]:
    """The scoring function for ``method`` and a JSON description of it."""
    if method == Method.classifier:
        if classifier is None:
            raise InvalidParameterError(
                "--classifier: expected a saved classifier directory for --method classifier "
                "(make one with modelcollapse guard train-classifier), got none"
            )
        from modelcollapse.guard.classifier import NGramClassifier

        clf = NGramClassifier.load(classifier)
        return clf.score, {"method": "classifier", "classifier": str(classifier)}
    if classifier is not None:
        raise InvalidParameterError(
            f"--classifier: expected only with --method classifier, got --method {method.value}"
        )
    from modelcollapse.guard.zero_shot import ZeroShotDetector

    det = ZeroShotDetector(
        model, method=method.value, performer=performer, max_length=max_length,
        batch_size=batch_size, device=device,
    )  # fmt: skip
    desc = {"method": method.value, "model": model, "performer": performer}
    return det.score, desc


def resolve_threshold(
    scorer: Scorer,
    *,
    threshold: float | None,
    calibrate: Path | None,
    calibrate_ai: Path | None,
    fpr: float,
    on_error: OnError,
) -> tuple[float | None, dict[str, Any] | None]:
    """``(threshold, calibration summary)`` from ``--threshold`` or ``--calibrate``."""
    if threshold is not None and calibrate is not None:
        raise InvalidParameterError(
            "expected one of --threshold or --calibrate, got both (a calibrated threshold "
            "replaces a given one)"
        )
    if calibrate_ai is not None and calibrate is None:
        raise InvalidParameterError(
            "--calibrate-ai: expected together with --calibrate HUMAN_FILE, got it alone"
        )
    if calibrate is None:
        return threshold, None
    from modelcollapse.guard.calibration import calibrate as calibrate_scores
    from modelcollapse.guard.calibration import check_fpr, threshold_at_fpr

    fpr = check_fpr(fpr, "--fpr")
    human, _ = read_docs([calibrate], on_error=on_error)
    h = scorer([d.text for d in human])
    if calibrate_ai is None:
        t = threshold_at_fpr(h, fpr)
        return t, {
            "threshold": t,
            "target_fpr": fpr,
            "fpr_human": float(np.mean(h > t)),
            "n_human": int(h.size),
            "human_file": str(calibrate),
        }
    ai, _ = read_docs([calibrate_ai], on_error=on_error)
    cal = calibrate_scores(h, scorer([d.text for d in ai]), target_fpr=fpr)
    return cal.threshold, {
        **cal.to_dict(),
        "human_file": str(calibrate),
        "ai_file": str(calibrate_ai),
    }


def detect(
    file: Path = typer.Argument(..., help="Documents to score (.jsonl, .parquet, .csv, .txt)."),
    method: Method = typer.Option(Method.fast_detectgpt, "--method", help=METHOD_HELP),
    model: str = typer.Option("smollm2-135m", "--model", help=MODEL_HELP),
    performer: str | None = typer.Option(
        None, "--performer", help="Binoculars' performer model (shares the model's tokenizer)."
    ),
    classifier: Path | None = typer.Option(
        None, "--classifier", help="Saved classifier directory (--method classifier)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Flag documents scoring above this."
    ),
    calibrate: Path | None = typer.Option(
        None, "--calibrate", help="Held-out human documents: choose the threshold at --fpr."
    ),
    calibrate_ai: Path | None = typer.Option(
        None, "--calibrate-ai", help="Synthetic documents: also report TPR and AUROC."
    ),
    fpr: float = typer.Option(0.01, "--fpr", help="Target false-positive rate for --calibrate."),
    max_length: int = typer.Option(256, "--max-length", min=1, help="Tokens scored per document."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Documents per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the documents with metadata.guard.detector (.jsonl/.parquet)."
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score documents as human or AI-written (higher = more likely AI) and flag them.

    Examples:

      modelcollapse guard detect crawl.jsonl --method fast-detectgpt --calibrate human_heldout.jsonl --fpr 0.01 --out scored.jsonl

      modelcollapse guard detect crawl.parquet --method classifier --classifier clf/ --threshold 0.9 --json
    """
    check_output(out, "--out")
    check_distinct(file, out)
    scorer, desc = make_scorer(
        method, model=model, performer=performer, classifier=classifier,
        max_length=max_length, batch_size=batch_size, device=device,
    )  # fmt: skip
    thr, cal = resolve_threshold(
        scorer, threshold=threshold, calibrate=calibrate, calibrate_ai=calibrate_ai, fpr=fpr,
        on_error=on_error,
    )  # fmt: skip
    docs, n_bad = read_docs([file], on_error=on_error)
    scores = scorer([d.text for d in docs])
    flags = [None if thr is None else bool(s > thr) for s in scores.tolist()]
    scored = [
        annotate(d, "detector", {**desc, "score": s, "threshold": thr, "flagged": f})
        for d, s, f in zip(docs, scores.tolist(), flags, strict=True)
    ]
    if out is not None:
        write_docs(scored, out)
    summary = {
        **desc,
        "n_documents": len(docs),
        "n_bad": n_bad,
        "threshold": thr,
        "n_flagged": None if thr is None else sum(bool(f) for f in flags),
        "score_mean": float(scores.mean()) if scores.size else None,
        "score_min": float(scores.min()) if scores.size else None,
        "score_max": float(scores.max()) if scores.size else None,
        "calibration": cal,
        "out": out,
    }
    if as_json:
        summary["documents"] = [
            {"id": d.id, "score": s, "flagged": f}
            for d, s, f in zip(docs, scores.tolist(), flags, strict=True)
        ]
        echo_json(summary)
        return
    for d, s, f in list(zip(docs, scores.tolist(), flags, strict=True))[:20]:
        typer.echo(f"{d.id}: score={fmt(s)}" + ("  AI" if f else ""))
    if len(docs) > 20:
        typer.echo(f"... {len(docs) - 20} more" + (f" in {out}" if out else ""))
    if thr is None:
        typer.echo(f"{len(docs)} documents scored ({desc['method']}); no threshold given")
    else:
        typer.echo(
            f"{summary['n_flagged']} of {len(docs)} documents flagged ({desc['method']}, "
            f"score > {fmt(thr)})"
        )
    if cal is not None:
        typer.echo(
            "calibration: "
            + ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in cal.items())
        )


def train_classifier(
    human: Path = typer.Option(..., "--human", help="Human-written training documents."),
    ai: Path = typer.Option(..., "--ai", help="Generated training documents."),
    out: Path = typer.Option(..., "--out", help="Directory to save the classifier in."),
    c: float = typer.Option(10.0, "--C", help="Inverse L2 regularisation strength."),
    n_features: int = typer.Option(
        2**20, "--n-features", min=16, help="Hash buckets per feature block."
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train the character + word n-gram classifier (saved without pickle) for guard detect.

    Examples:

      modelcollapse guard train-classifier --human kjv_train.jsonl --ai ngram_train.jsonl --out clf/

      modelcollapse guard detect crawl.jsonl --method classifier --classifier clf/ --calibrate kjv_heldout.jsonl
    """
    from modelcollapse.guard.classifier import NGramClassifier

    h, _ = read_docs([human], on_error=on_error)
    a, _ = read_docs([ai], on_error=on_error)
    clf = NGramClassifier(C=c, n_features=n_features)
    clf.fit([d.text for d in h], [d.text for d in a])
    path = clf.save(out)
    summary = {"out": path, "n_human": len(h), "n_synthetic": len(a), **clf.get_params()}
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"trained on {len(h)} human and {len(a)} generated documents -> {path}")


def estimate(
    target: Path = typer.Argument(..., help="Corpus whose synthetic share is estimated."),
    human: Path = typer.Option(..., "--human", help="Human reference corpus."),
    ai: Path = typer.Option(..., "--ai", help="AI reference corpus."),
    bootstrap: int = typer.Option(
        200, "--bootstrap", min=0, help="Bootstrap replicates (0: no CI)."
    ),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the CI."),
    min_docs: int = typer.Option(
        1,
        "--min-docs",
        min=1,
        help="Vocabulary: words in at least this many documents of each reference.",
    ),
    classifier: Path | None = typer.Option(
        None, "--classifier", help="Also estimate with this saved classifier (Saerens EM)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed of the bootstrap."),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the estimates as JSON."),
) -> None:
    """Estimate the fraction of AI-generated documents in a corpus (Liang et al. 2024 MLE).

    Examples:

      modelcollapse guard estimate crawl.jsonl --human kjv.jsonl --ai generated.jsonl

      modelcollapse guard estimate crawl.parquet --human h.jsonl --ai a.jsonl --bootstrap 500 --classifier clf/ --json
    """
    from modelcollapse.guard.estimate import estimate_fraction

    t, n_bad = read_docs([target], on_error=on_error)
    h, _ = read_docs([human], on_error=on_error)
    a, _ = read_docs([ai], on_error=on_error)
    texts = [d.text for d in t]
    est = estimate_fraction(
        [d.text for d in h], [d.text for d in a], texts, rng=seed, n_boot=bootstrap,
        confidence=confidence, min_docs=min_docs,
    )  # fmt: skip
    summary: dict[str, Any] = {
        "target": target,
        "n_target": len(t),
        "n_bad": n_bad,
        "n_human_reference": len(h),
        "n_ai_reference": len(a),
        "mle": est.to_dict(),
    }
    if classifier is not None:
        from modelcollapse.guard.classifier import NGramClassifier
        from modelcollapse.guard.estimate import estimate_with_classifier

        clf = NGramClassifier.load(classifier)
        summary["classifier"] = estimate_with_classifier(
            clf, texts, rng=seed, n_boot=bootstrap, confidence=confidence
        ).to_dict()
    if as_json:
        echo_json(summary)
        return
    level = f"{est.confidence:.0%} CI"
    typer.echo(
        f"synthetic share (MLE): {est.alpha:.4f}  {level} [{fmt(est.ci_low)}, {fmt(est.ci_high)}]"
        f"  ({len(t)} documents)"
    )
    if classifier is not None:
        em = summary["classifier"]["em"]
        typer.echo(
            f"synthetic share (classifier, EM): {em['alpha']:.4f}  {level} "
            f"[{fmt(em['ci_low'])}, {fmt(em['ci_high'])}]; classify-and-count "
            f"{summary['classifier']['classify_count']:.4f}"
        )
