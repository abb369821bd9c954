"""``modelcollapse guard filter``: drop documents flagged by the registry, watermark or detector.

The checks are library pipeline steps (:class:`~modelcollapse.guard.registry_filter.RegistryFilter`,
:class:`~modelcollapse.guard.verdict.WatermarkStep`, :class:`~modelcollapse.guard.verdict.DetectorStep`)
run by :func:`modelcollapse.guard.pipeline.run_pipeline`; :mod:`modelcollapse.guard.verdict`
explains the combined verdict. This module only turns options into steps. ``kept + excluded ==
input`` is checked per step and for the run.

Sharded input (FILE a directory or a quoted glob, or any of ``--executor``, ``--workers``,
``--address``) runs one task per shard through
:func:`modelcollapse.guard.sharded.filter_shards`; ``--out`` and ``--exclusions`` are then
directories that receive one file per shard, and ``--resume`` finishes a killed job in the
same folders, skipping the shards it finished (:mod:`modelcollapse.guard.filter_resume`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from modelcollapse.cli.guard_detect import (
    METHOD_HELP,
    MODEL_HELP,
    Method,
    make_scorer,
    resolve_threshold,
)
from modelcollapse.cli.guard_io import (
    ON_ERROR_HELP,
    OnError,
    check_distinct,
    check_output,
    echo_json,
    open_registry,
    read_docs,
)
from modelcollapse.cli.guard_watermark import (
    Seeding,
    load_tokenizer,
    watermark_config,
)
from modelcollapse.cli.measure import (
    ADDRESS_OPTION,
    EXECUTOR_OPTION,
    WORKERS_OPTION,
    ExecutorName,
)
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.pipeline import Step
from modelcollapse.guard.verdict import DetectorStep, WatermarkStep

if TYPE_CHECKING:
    from modelcollapse.guard.filter_plan import FilterPlan


def filter_command(
    file: Path = typer.Argument(
        ...,
        help="Documents to filter (.jsonl, .parquet, .csv, .txt), or shards: a directory or a "
        "quoted glob of such files.",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Kept documents (.jsonl or .parquet; a directory for shards)."
    ),
    exclusions: Path = typer.Option(
        ...,
        "--exclusions",
        help="Dropped documents with their reason (.jsonl or .parquet; a directory for shards).",
    ),
    registry: str | None = typer.Option(
        None, "--registry", help="Registry database URL: drop documents it holds."
    ),
    registry_threshold: float | None = typer.Option(
        None, "--registry-threshold", min=0.0, max=1.0, help="Near-duplicate Jaccard threshold."
    ),
    exact_only: bool = typer.Option(False, "--exact-only", help="Registry: exact matches only."),
    watermark_key_file: Path | None = typer.Option(
        None, "--watermark-key-file", help="Drop documents carrying this key's watermark."
    ),
    watermark_key_env: str | None = typer.Option(
        None, "--watermark-key-env", help="Environment variable holding the watermark key."
    ),
    tokenizer: str = typer.Option(
        "words", "--tokenizer", help="Watermark tokenizer: words, lower:words, bytes, hf:MODEL."
    ),
    gamma: float = typer.Option(0.25, "--gamma", help="Watermark green-list fraction."),
    context_width: int = typer.Option(1, "--context-width", min=1, help="Watermark context h."),
    seeding: str = typer.Option(
        "mix64", "--seeding", help="Watermark seeding: mix64 or hmac-sha256."
    ),
    window: int | None = typer.Option(None, "--window", min=1, help="Windowed watermark test."),
    z: float = typer.Option(4.0, "--z", help="Watermark z threshold."),
    detector: Method | None = typer.Option(None, "--detector", help=METHOD_HELP),
    model: str = typer.Option("smollm2-135m", "--model", help=MODEL_HELP),
    performer: str | None = typer.Option(None, "--performer", help="Binoculars' performer."),
    classifier: Path | None = typer.Option(
        None, "--classifier", help="Saved classifier directory (--detector classifier)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Detector: drop documents scoring above this."
    ),
    calibrate: Path | None = typer.Option(
        None, "--calibrate", help="Detector: held-out human documents to choose the threshold."
    ),
    fpr: float = typer.Option(0.01, "--fpr", help="Detector: target false-positive rate."),
    max_length: int = typer.Option(256, "--max-length", min=1, help="Detector: tokens per doc."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Detector: docs per pass."),
    device: str = typer.Option("auto", "--device", help="Detector device: auto, cpu, cuda."),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    executor: ExecutorName | None = EXECUTOR_OPTION,
    workers: int | None = WORKERS_OPTION,
    address: str | None = ADDRESS_OPTION,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Shards: replace output files of an earlier run in the folders."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Shards: finish a killed job in the same folders with the same options, skipping "
        "the shards it finished (not with --overwrite).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Keep the documents no check flags; write the others with the check that fired.

    Checks run in this order, each only on what the previous ones kept: --registry, the
    watermark (--watermark-key-file or --watermark-key-env), a detector (--detector with
    --threshold or --calibrate). At least one check is required.

    Examples:

      modelcollapse guard filter crawl.jsonl --out kept.jsonl --exclusions excluded.jsonl --registry sqlite:///reg.db --watermark-key-file wm.key

      modelcollapse guard filter crawl.parquet --out kept.parquet --exclusions ex.jsonl --detector classifier --classifier clf/ --calibrate human_heldout.jsonl --fpr 0.01 --json

      modelcollapse guard filter crawl_shards/ --out kept/ --exclusions excluded/ --watermark-key-file wm.key --workers 2

      modelcollapse guard filter 'crawl/part-*.parquet' --out kept/ --exclusions excluded/ --registry sqlite:////shared/reg.db --executor ray --address 127.0.0.1:6379

      modelcollapse guard filter crawl_shards/ --out kept/ --exclusions excluded/ --watermark-key-file wm.key --workers 2 --resume
    """
    from modelcollapse.guard.pipeline import run_pipeline
    from modelcollapse.measure.sharded import is_sharded

    use_watermark = watermark_key_file is not None or watermark_key_env is not None
    if executor or workers or address or is_sharded(file):
        _check_options(registry, use_watermark, detector, threshold, calibrate)
        plan, cal = _plan(
            registry=registry, registry_threshold=registry_threshold, exact_only=exact_only,
            watermark_key_file=watermark_key_file, watermark_key_env=watermark_key_env,
            tokenizer=tokenizer, gamma=gamma, context_width=context_width, seeding=seeding,
            window=window, z=z, detector=detector, model=model, performer=performer,
            classifier=classifier, threshold=threshold, calibrate=calibrate, fpr=fpr,
            max_length=max_length, batch_size=batch_size, device=device, on_error=on_error,
        )  # fmt: skip
        name = executor.value if executor else ("ray" if address else "local")
        _filter_sharded(
            file, out, exclusions, plan, cal, executor=name, workers=workers, address=address,
            on_error=on_error, overwrite=overwrite, resume=resume, as_json=as_json,
        )  # fmt: skip
        return
    if resume:
        raise InvalidParameterError(
            f"--resume: expected shards (a directory, a quoted glob or --executor), got the single "
            f"file {file}"
        )
    check_output(out, "--out")
    check_output(exclusions, "--exclusions")
    check_distinct(file, out, exclusions)
    _check_options(registry, use_watermark, detector, threshold, calibrate)
    steps: list[Step] = []
    checks: dict[str, Any] = {}
    registry_obj = None
    try:
        if registry is not None:
            from modelcollapse.guard.registry_filter import RegistryFilter

            registry_obj = open_registry(registry)
            steps.append(
                RegistryFilter(registry_obj, near=not exact_only, threshold=registry_threshold)
            )
            checks["registry"] = {"url": registry_obj.url, "near": not exact_only}
        if use_watermark:
            try:
                seed_mode = Seeding(seeding)
            except ValueError:
                raise InvalidParameterError(
                    f"--seeding: expected 'mix64' or 'hmac-sha256', got {seeding!r}"
                ) from None
            cfg = watermark_config(
                watermark_key_file, watermark_key_env, gamma, context_width, seed_mode
            )
            steps.append(
                WatermarkStep(cfg, load_tokenizer(tokenizer), z_threshold=z, window=window)
            )
            checks["watermark"] = {**cfg.public_params(), "z_threshold": z, "window": window}
        if detector is not None:
            scorer, desc = make_scorer(
                detector, model=model, performer=performer, classifier=classifier,
                max_length=max_length, batch_size=batch_size, device=device,
            )  # fmt: skip
            thr, cal = resolve_threshold(
                scorer, threshold=threshold, calibrate=calibrate, calibrate_ai=None, fpr=fpr,
                on_error=on_error,
            )  # fmt: skip
            if thr is None:
                raise InvalidParameterError(
                    "--detector: expected --threshold T or --calibrate HUMAN_FILE, got neither"
                )
            steps.append(DetectorStep(scorer, desc, threshold=thr, batch_size=max(batch_size, 64)))
            checks["detector"] = {**desc, "threshold": thr, "calibration": cal}
        docs, n_bad = read_docs([file], on_error=on_error)
        stats = run_pipeline(docs, steps, exclusions_path=exclusions, output_path=out)
    finally:
        if registry_obj is not None:
            registry_obj.close()
    summary = {**stats.to_dict(), "n_bad": n_bad, "checks": checks}
    if as_json:
        echo_json(summary)
        return
    _echo_stats(stats, out, exclusions)


def _echo_stats(stats: Any, out: Path, exclusions: Path) -> None:
    for s in stats.steps:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(s.reasons.items())) or "none"
        typer.echo(f"{s.name}: {s.n_in} in, {s.n_kept} kept, {s.n_excluded} dropped ({reasons})")
    typer.echo(
        f"input {stats.n_input} = kept {stats.n_output} ({out}) + excluded {stats.n_excluded} "
        f"({exclusions})"
    )


def _check_options(
    registry: str | None,
    use_watermark: bool,
    detector: Method | None,
    threshold: float | None,
    calibrate: Path | None,
) -> None:
    if registry is None and not use_watermark and detector is None:
        raise InvalidParameterError(
            "expected at least one check (--registry, --watermark-key-file/--watermark-key-env "
            "or --detector), got none"
        )
    if detector is None and (threshold is not None or calibrate is not None):
        raise InvalidParameterError("--threshold/--calibrate: expected together with --detector")


def _plan(
    *,
    registry: str | None,
    registry_threshold: float | None,
    exact_only: bool,
    watermark_key_file: Path | None,
    watermark_key_env: str | None,
    tokenizer: str,
    gamma: float,
    context_width: int,
    seeding: str,
    window: int | None,
    z: float,
    detector: Method | None,
    model: str,
    performer: str | None,
    classifier: Path | None,
    threshold: float | None,
    calibrate: Path | None,
    fpr: float,
    max_length: int,
    batch_size: int,
    device: str,
    on_error: OnError,
) -> tuple[FilterPlan, dict[str, Any] | None]:
    """The checks as a :class:`FilterPlan` (the key stays where it is: only its file or variable
    name is in the plan) and the detector's calibration summary. A calibrated threshold is
    chosen here, once, on the driver, before any shard task starts."""
    from modelcollapse.guard.filter_plan import (
        DetectorSpec,
        FilterPlan,
        RegistrySpec,
        WatermarkSpec,
    )

    reg = None
    if registry is not None:
        reg = RegistrySpec(registry, near=not exact_only, threshold=registry_threshold)
    wm = None
    if watermark_key_file is not None or watermark_key_env is not None:
        if seeding not in {s.value for s in Seeding}:
            raise InvalidParameterError(
                f"--seeding: expected 'mix64' or 'hmac-sha256', got {seeding!r}"
            )
        wm = WatermarkSpec(
            key_file=watermark_key_file, key_env=watermark_key_env, tokenizer=tokenizer,
            gamma=gamma, context_width=context_width, seeding=seeding, window=window, z_threshold=z,
        )  # fmt: skip
    det, cal = None, None
    if detector is not None:
        if threshold is None and calibrate is None:
            raise InvalidParameterError(
                "--detector: expected --threshold T or --calibrate HUMAN_FILE, got neither"
            )
        thr = threshold
        if calibrate is not None:  # calibrate once, here; the shard tasks get the threshold
            scorer, _ = make_scorer(
                detector, model=model, performer=performer, classifier=classifier,
                max_length=max_length, batch_size=batch_size, device=device,
            )  # fmt: skip
            thr, cal = resolve_threshold(
                scorer, threshold=threshold, calibrate=calibrate, calibrate_ai=None, fpr=fpr,
                on_error=on_error,
            )  # fmt: skip
        assert thr is not None
        det = DetectorSpec(
            detector.value, thr, model=model, performer=performer, classifier=classifier,
            max_length=max_length, batch_size=batch_size, device=device,
        )  # fmt: skip
    return FilterPlan(registry=reg, watermark=wm, detector=det), cal


def _filter_sharded(
    file: Path,
    out: Path,
    exclusions: Path,
    plan: FilterPlan,
    cal: dict[str, Any] | None,
    *,
    executor: str,
    workers: int | None,
    address: str | None,
    on_error: OnError,
    overwrite: bool,
    resume: bool,
    as_json: bool,
) -> None:
    """``guard filter`` over shards: --out and --exclusions are directories."""
    from modelcollapse.guard.sharded import filter_shards

    result = filter_shards(
        file, plan, out, exclusions, executor=executor, workers=workers, address=address,
        on_error=on_error.value, overwrite=overwrite, resume=resume,
        progress=not as_json and sys.stderr.isatty(),
    )  # fmt: skip
    checks = result.checks
    if "detector" in checks:
        checks["detector"]["calibration"] = cal
    for shard in result.shards:
        if shard.n_bad:
            typer.echo(
                f"note: {shard.path}: skipped {shard.n_bad} bad record(s) into "
                f"{shard.quarantine_path}",
                err=True,
            )
    if as_json:
        echo_json(result.to_dict())
        return
    if resume:
        typer.echo(f"skipped {result.n_skipped} finished shard(s)")
    _echo_stats(result.stats, out, exclusions)
    typer.echo(f"{result.n_shards} shard(s), {result.n_bad} bad record(s) skipped")
