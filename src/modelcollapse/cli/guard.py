"""``modelcollapse guard``: keep synthetic data under control when building training sets.

Subcommands: ``register``, ``lookup`` (the registry of generated outputs), ``watermark keygen``
and ``watermark detect``, ``detect`` (zero-shot or supervised human-vs-AI scores),
``train-classifier``, ``estimate`` (synthetic share of a corpus), ``mix`` (the training-mix
builder) and ``filter`` (registry, watermark and detector checks with exclusion records).
Detection commands live in :mod:`modelcollapse.cli.guard_detect`, ``filter`` in
:mod:`modelcollapse.cli.guard_filter`. Connection strings are only ever printed redacted.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from modelcollapse.cli.guard_detect import detect, estimate, train_classifier
from modelcollapse.cli.guard_filter import filter_command
from modelcollapse.cli.guard_io import (
    ON_ERROR_HELP,
    OnError,
    check_distinct,
    check_output,
    echo_json,
    fmt,
    open_registry,
    read_docs,
    write_rows,
)
from modelcollapse.cli.guard_watermark import watermark_app
from modelcollapse.errors import InvalidParameterError

app = typer.Typer(
    name="guard",
    help=(
        "Provenance registry, watermarks, human-vs-AI detection, synthetic-share estimation "
        "and the training-mix builder.\n\n"
        "Examples:\n\n"
        "  modelcollapse guard register synthetic.jsonl --registry sqlite:///reg.db\n\n"
        "  modelcollapse guard mix human.jsonl synthetic.jsonl --max-synthetic 0.1 "
        "--out mix.jsonl --manifest manifest.json --exclusions excluded.jsonl"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(watermark_app, name="watermark")

REGISTRY_HELP = (
    "Registry database: sqlite:///path/reg.db (or a file path) or "
    "postgresql://user:password@host/db (never printed with the password)."
)


# -- register / lookup --------------------------------------------------------------------------
@app.command("register")
def register(
    files: list[Path] = typer.Argument(..., help="Generated documents (.jsonl, .parquet, ...)."),
    registry: str = typer.Option(..., "--registry", help=REGISTRY_HELP),
    generator: str | None = typer.Option(
        None, "--generator", help="Generator name for documents whose provenance has none."
    ),
    generation: int | None = typer.Option(
        None, "--generation", min=0, help="Generation for documents whose provenance has none."
    ),
    include_human: bool = typer.Option(
        False,
        "--include-human",
        help="Also register documents whose provenance says human (skipped by default: the "
        "registry holds what your models generated, and a human text in it gets flagged).",
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Store generated documents in the registry (idempotent: a text is stored once).

    Examples:

      modelcollapse guard register samples_gen1.jsonl samples_gen2.parquet --registry sqlite:///reg.db

      modelcollapse guard register out.jsonl --registry sqlite:///reg.db --generator ngram --generation 3 --json
    """
    docs, n_bad = read_docs(files, on_error=on_error)
    is_human = [d.metadata["provenance"].get("source") == "human" for d in docs]
    chosen = docs if include_human else [d for d, h in zip(docs, is_human, strict=True) if not h]
    with open_registry(registry) as reg:
        counts = reg.register(chosen, generator=generator, generation=generation)
        summary = {
            "registry": reg.url,
            "n_read": len(docs),
            "n_bad": n_bad,
            "n_new": counts.new,
            "n_existing": counts.existing,
            "n_skipped_human": 0 if include_human else sum(is_human),
            "n_registered_total": len(reg),
        }
    if as_json:
        echo_json(summary)
        return
    typer.echo(
        f"registered {counts.new} new, {counts.existing} already present "
        f"({summary['n_skipped_human']} human skipped) in {summary['registry']}; "
        f"{summary['n_registered_total']} documents in total"
    )


@app.command("lookup")
def lookup(
    file: Path = typer.Argument(..., help="Documents to look up."),
    registry: str = typer.Option(..., "--registry", help=REGISTRY_HELP),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Estimated Jaccard similarity for a near duplicate (default: the registry's).",
    ),
    exact_only: bool = typer.Option(False, "--exact-only", help="Only exact (normalised) matches."),
    out: Path | None = typer.Option(
        None, "--out", help="Write one row per match (.jsonl or .parquet)."
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Find documents that the registry holds, exactly or as near duplicates.

    Examples:

      modelcollapse guard lookup crawl.jsonl --registry sqlite:///reg.db --out matches.jsonl

      modelcollapse guard lookup crawl.parquet --registry sqlite:///reg.db --threshold 0.7 --json
    """
    check_output(out, "--out")
    check_distinct(file, out)
    docs, n_bad = read_docs([file], on_error=on_error)
    with open_registry(registry) as reg:
        matches = reg.lookup(docs, threshold=threshold, near=not exact_only)
        url = reg.url
    rows = [m.to_dict() for m in matches]
    exact = {m.index for m in matches if m.kind == "exact"}
    near = {m.index for m in matches if m.kind == "near"} - exact
    if out is not None:
        write_rows(rows, out)
    summary = {
        "registry": url,
        "n_documents": len(docs),
        "n_bad": n_bad,
        "n_matched": len(exact | near),
        "n_exact": len(exact),
        "n_near_only": len(near),
        "n_matches": len(rows),
        "out": out,
    }
    if as_json:
        echo_json(summary)
        return
    typer.echo(
        f"{summary['n_matched']} of {len(docs)} documents found in {url} "
        f"({len(exact)} exact, {len(near)} near only)"
    )
    for m in matches[:10]:
        typer.echo(
            f"  {m.query_id}: {m.kind} jaccard={m.jaccard:.3f} generator={m.generator} "
            f"generation={m.generation}"
        )
    if len(matches) > 10:
        typer.echo(f"  ... {len(matches) - 10} more" + (f" in {out}" if out else ""))


# -- mix ----------------------------------------------------------------------------------------
class DedupMode(StrEnum):
    exact = "exact"
    near = "near"
    none = "none"


class UnknownAs(StrEnum):
    synthetic = "synthetic"
    human = "human"
    exclude = "exclude"


@app.command("mix")
def mix(
    pools: list[Path] = typer.Argument(
        None, help="Pools labelled by metadata.provenance.source (human|synthetic|unknown)."
    ),
    human: list[Path] = typer.Option(
        [], "--human", help="A pool of human documents: its unlabelled ones count as human."
    ),
    synthetic: list[Path] = typer.Option(
        [],
        "--synthetic",
        help="A pool of generated documents: its unlabelled ones count as synthetic.",
    ),
    max_synthetic: float = typer.Option(
        ..., "--max-synthetic", help="Cap on the synthetic share of the mix, in [0, 1]."
    ),
    real_floor: float = typer.Option(
        1.0, "--real-floor", help="Fraction of the human documents kept, at least (1 = all)."
    ),
    dedup: DedupMode = typer.Option(DedupMode.exact, "--dedup", help="Duplicate removal."),
    near_threshold: float = typer.Option(
        0.8, "--near-threshold", help="Estimated Jaccard similarity of a near duplicate."
    ),
    favour_rare: bool = typer.Option(
        False, "--favour-rare", help="Prefer synthetic documents carrying rare words (tails)."
    ),
    rare_fraction: float = typer.Option(
        0.01, "--rare-fraction", help="A word is rare in at most this share of human documents."
    ),
    size: int | None = typer.Option(None, "--size", min=1, help="Target number of documents."),
    unknown_as: UnknownAs = typer.Option(
        UnknownAs.synthetic, "--unknown-as", help="How documents of unknown source count."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (same seed, same mix)."),
    out: Path = typer.Option(..., "--out", help="The mix (.jsonl or .parquet)."),
    manifest: Path = typer.Option(..., "--manifest", help="Manifest (JSON)."),
    exclusions: Path = typer.Option(
        ..., "--exclusions", help="Documents left out, each with its reason (.jsonl/.parquet)."
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build a training mix that never exceeds a synthetic share, keeping real data.

    Keeps all human documents (or --real-floor of them), removes exact or near duplicates,
    adds synthetic documents up to --max-synthetic, optionally favouring rare words, and writes
    the mix, a manifest and every excluded document with its reason. Documents of unknown
    source count as synthetic unless --unknown-as says otherwise.

    Examples:

      modelcollapse guard mix human.jsonl synthetic.jsonl --max-synthetic 0.1 --out mix.jsonl --manifest manifest.json --exclusions excluded.jsonl

      modelcollapse guard mix --human kjv.txt --synthetic gen*.parquet --max-synthetic 0.25 --dedup near --favour-rare --size 5000 --out mix.parquet --manifest m.json --exclusions ex.jsonl --json
    """
    from modelcollapse.guard.mix import build_mix

    check_output(out, "--out")
    check_output(exclusions, "--exclusions")
    pools = list(pools or [])
    inputs = [*pools, *human, *synthetic]
    if not inputs:
        raise InvalidParameterError("expected at least one pool file, got none")
    check_distinct(*inputs, out, exclusions, manifest)
    docs, n_bad = read_docs(pools, on_error=on_error)
    for label, paths in (("human", human), ("synthetic", synthetic)):
        labelled, bad = read_docs(paths, on_error=on_error)
        n_bad += bad
        for d in labelled:  # a pool's label fills in unknown sources only; own labels win
            if d.metadata["provenance"].get("source") == "unknown":
                d.metadata["provenance"]["source"] = label
        docs.extend(labelled)
    result = build_mix(
        docs, max_synthetic_fraction=max_synthetic, rng=seed, real_floor=real_floor,
        dedup=dedup.value, near_threshold=near_threshold, favour_rare=favour_rare,
        rare_fraction=rare_fraction, target_size=size, unknown_as=unknown_as.value,
    )  # fmt: skip
    result.manifest["pools"] = {
        "labelled": [str(p) for p in pools],
        "human": [str(p) for p in human],
        "synthetic": [str(p) for p in synthetic],
        "n_bad_records_skipped": n_bad,
    }
    result.manifest["settings"]["seed"] = seed
    result.write(out, exclusions=exclusions, manifest=manifest)
    m = result.manifest
    if as_json:
        echo_json(m)
        return
    share = m["synthetic_share"]
    typer.echo(
        f"mix: {m['n_mix']} documents ({m['n_human']} human, {m['n_synthetic']} counted "
        f"synthetic, share {fmt(share)} <= cap {max_synthetic}) -> {out}"
    )
    typer.echo(f"excluded: {m['n_excluded']} -> {exclusions} {m['excluded_by_reason']}")
    typer.echo(f"input {m['n_input']} = mix {m['n_mix']} + excluded {m['n_excluded']}")
    typer.echo(f"manifest -> {manifest}")


app.command("detect")(detect)
app.command("train-classifier")(train_classifier)
app.command("estimate")(estimate)
app.command("filter")(filter_command)
