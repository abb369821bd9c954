"""``modelcollapse guard watermark keygen | detect``: watermark keys and detection.

Keys are 32 random bytes from the operating system, stored as hex text in a file created with
mode 600; detection reports per document the z-score of Kirchenbauer et al. (2023) with its
exact normal tail p-value (:mod:`modelcollapse.guard.watermark_detect`). The key itself is never
printed: only its SHA-256 fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

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
from modelcollapse.guard.verdict import annotate, watermark_hit

if TYPE_CHECKING:
    from modelcollapse.guard.watermark import WatermarkConfig

watermark_app = typer.Typer(
    name="watermark",
    help=(
        "Green-list watermark keys and detection (Kirchenbauer et al. 2023).\n\n"
        "Examples:\n\n"
        "  modelcollapse guard watermark keygen --out wm.key\n\n"
        "  modelcollapse guard watermark detect samples.jsonl --key-file wm.key --tokenizer words"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@watermark_app.command("keygen")
def keygen(
    out: Path = typer.Option(..., "--out", help="Key file to create (mode 600)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing key file."),
    as_json: bool = typer.Option(False, "--json", help="Print the path and fingerprint as JSON."),
) -> None:
    """Create a new watermark key: 32 random bytes (os.urandom), written as 64 hex digits.

    The file holds the hex text and a newline, so the key read from the file (--key-file) and
    the same text in an environment variable (--key-env) are the same key. It is created with
    mode 600 and never printed.

    Examples:

      modelcollapse guard watermark keygen --out wm.key

      export WM_KEY=$(cat wm.key)
    """
    path = out.expanduser()
    if path.exists() and not force:
        raise InvalidParameterError(
            f"--out: expected a new file, got existing {path} (use --force to replace it)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # Created 600 from the start: the key is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_bytes(32).hex() + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    from modelcollapse.guard.watermark import load_key

    fingerprint = hashlib.sha256(load_key(key_file=path)).hexdigest()[:12]
    if as_json:
        echo_json({"key_file": path, "key_sha256": fingerprint})
    else:
        typer.echo(f"wrote a new watermark key to {path} (sha256:{fingerprint})")


class Seeding(StrEnum):
    mix64 = "mix64"
    hmac = "hmac-sha256"


TOKENIZER_HELP = (
    "How text becomes tokens, matching the generator: 'words' (our n-gram's words), "
    "'lower:words', 'bytes', or 'hf:MODEL' (the tokenizer of a local model directory, a "
    "tokenizer.json, or 'hf:smollm2-135m')."
)


def load_tokenizer(spec: str):
    """The tokenizer for watermark detection (see TOKENIZER_HELP)."""
    from modelcollapse.guard.filter_plan import load_watermark_tokenizer

    return load_watermark_tokenizer(spec)


def watermark_config(
    key_file: Path | None,
    key_env: str | None,
    gamma: float,
    context_width: int,
    seeding: Seeding,
) -> WatermarkConfig:
    from modelcollapse.guard.watermark import WatermarkConfig, load_key

    key = load_key(key_file=key_file, key_env=key_env)
    return WatermarkConfig(key, gamma=gamma, context_width=context_width, seeding=seeding.value)


@watermark_app.command("detect")
def watermark_detect(
    file: Path = typer.Argument(..., help="Documents to test."),
    key_file: Path | None = typer.Option(None, "--key-file", help="File holding the key."),
    key_env: str | None = typer.Option(
        None, "--key-env", help="Environment variable with the key."
    ),
    tokenizer: str = typer.Option("words", "--tokenizer", help=TOKENIZER_HELP),
    gamma: float = typer.Option(0.25, "--gamma", help="Green-list fraction used when embedding."),
    context_width: int = typer.Option(1, "--context-width", min=1, help="Context width h."),
    seeding: Seeding = typer.Option(Seeding.mix64, "--seeding", help="Green-list seeding."),
    window: int | None = typer.Option(
        None, "--window", min=1, help="Windowed detection: best run of N scored tokens."
    ),
    z: float = typer.Option(4.0, "--z", help="Flag documents whose z exceeds this."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the documents with metadata.guard.watermark (.jsonl/.parquet)."
    ),
    on_error: OnError = typer.Option(OnError.fail, "--on-error", help=ON_ERROR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Test each document for the watermark: z-score, exact normal tail p-value, flag.

    With --window N the best window's z is reported and flagged on its Bonferroni-corrected
    p-value. The pooled line tests all documents together ("was this batch watermarked?").

    Examples:

      modelcollapse guard watermark detect samples.jsonl --key-file wm.key --tokenizer words

      modelcollapse guard watermark detect gen.parquet --key-env WM_KEY --tokenizer hf:smollm2-135m --window 200 --json
    """
    from modelcollapse.guard.watermark_detect import as_encoder, detect_documents, detect_text

    check_output(out, "--out")
    check_distinct(file, out)
    cfg = watermark_config(key_file, key_env, gamma, context_width, seeding)
    tok = load_tokenizer(tokenizer)
    docs, n_bad = read_docs([file], on_error=on_error)
    encode = as_encoder(tok)
    scored = []
    flagged = 0
    for doc in docs:
        d = detect_text(doc.text, tok, cfg, window=window)
        hit = watermark_hit(d, z)
        flagged += hit
        info = {**d.as_dict(), "z_threshold": z, "flagged": hit, "key_sha256": cfg.fingerprint}
        scored.append(annotate(doc, "watermark", info))
    encoded = [encode(doc.text) for doc in docs]
    prefix = encoded[0][0] if encoded else None
    pooled = detect_documents([c for _, c in encoded], cfg, prefix=prefix)
    if out is not None:
        write_docs(scored, out)
    summary = {
        "n_documents": len(docs),
        "n_bad": n_bad,
        "n_flagged": flagged,
        "z_threshold": z,
        "watermark": cfg.public_params(),
        "pooled": pooled.as_dict(),
        "out": out,
    }
    if as_json:
        summary["documents"] = [
            {"id": d.id, **{k: d.metadata["guard"]["watermark"][k] for k in ("z", "p_value")}}
            for d in scored
        ]
        echo_json(summary)
        return
    for d in scored[:20]:
        w = d.metadata["guard"]["watermark"]
        mark = "  WATERMARKED" if w["flagged"] else ""
        typer.echo(f"{d.id}: z={fmt(w['z'])} p={fmt(w['p_value'])} T={w['n_scored']}{mark}")
    if len(scored) > 20:
        typer.echo(f"... {len(scored) - 20} more" + (f" in {out}" if out else ""))
    typer.echo(
        f"{flagged} of {len(docs)} documents flagged at z > {z}; pooled z={fmt(pooled.z)} "
        f"over {pooled.n_scored} tokens (key sha256:{cfg.fingerprint})"
    )
