"""Real (generation-0) data for an experiment: ``load_real(cfg, seed=..., replicate=...)``.

Synthetic sources have a known true distribution (``truth``) and draw new data per replicate,
the training set from ``stream(seed, replicate, 0, Role.DATA)`` and the held-out set from
``stream(seed, replicate, 0, Role.HELDOUT)``:

- ``gaussian``: N(mean, cov). ``mean`` is a scalar or a list (default 0); either ``cov`` (a
  symmetric positive semi-definite matrix) or ``std`` (a scalar or a list of per-axis standard
  deviations, default 1; cov = diag(std**2)). The dimension comes from whichever is a list
  (1 when all are scalars). ``n`` (default 100) training and ``n_heldout`` (default 1000) points.
- ``categorical``: ``probs`` (K non-negative probabilities summing to 1 within 1e-6), ``n``,
  ``n_heldout``. Data are int64 codes in [0, K).
- ``linear``: ``n``, ``d`` (default 10), ``noise`` (default 1.0), ``n_heldout``. x ~ N(0, I_d),
  y = x . w* + noise * eps with eps ~ N(0, 1); the true coefficients w* ~ N(0, I_d / d) are drawn
  once per replicate (first, from the training stream) so that Var(x . w*) is about 1 whatever d.
  Rows are ``[x, y]`` (n, d + 1); ``truth = {"coef": w*, "noise": noise}``.

Datasets give every replicate the same data, subsampled with ``stream(seed, 0, 0, Role.DATA)``
(and ``Role.HELDOUT`` for the held-out subsample) from their fixed splits:

- ``kjv``: ``n_docs`` (default 5000) training verses from the ~28k training pool, ``n_heldout``
  (default 1000) from the ~3.1k held-out pool; text (list[str]).
- ``digits``: ``n`` (default: all 1,438 training images), ``n_heldout`` (default: all 359);
  numeric (n, 64).
- ``path``: ``path`` (required; relative paths resolve against the current directory), ``kind``
  (auto|numeric|text|discrete), ``text_field``, ``columns``, ``on_error`` (fail|skip),
  ``heldout_fraction`` (default 0.1; the split is a permutation from seed 0, fixed for the file)
  and ``n`` (default: the whole training pool).

``RealData.fresh(n, rng)`` draws new real data: from ``truth`` for synthetic sources, and for
datasets a resample of the full training pool (without replacement when n fits in it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.data.bundled import digits_split, kjv_split
from modelcollapse.data.readers import read_data
from modelcollapse.errors import InvalidParameterError, did_you_mean
from modelcollapse.rng import Role, stream

if TYPE_CHECKING:  # type-only: keeps data importable without the loop and generator packages
    from modelcollapse.generators.base import DataKind
    from modelcollapse.loop.config import DataConfig

log = logging.getLogger(__name__)

PARAMS: dict[str, dict[str, Any]] = {
    "gaussian": {"mean": 0.0, "cov": None, "std": None, "n": 100, "n_heldout": 1000},
    "categorical": {"probs": None, "n": 100, "n_heldout": 1000},
    "linear": {"n": 100, "d": 10, "noise": 1.0, "n_heldout": 1000},
    "kjv": {"n_docs": 5000, "n_heldout": 1000},
    "digits": {"n": None, "n_heldout": None},
    "path": {
        "path": None, "kind": "auto", "text_field": "text", "columns": None,
        "heldout_fraction": 0.1, "on_error": "fail", "n": None,
    },
}  # fmt: skip


@dataclass
class RealData:
    """The real data of one replicate; see the module docstring for each source."""

    data_kind: DataKind
    train: Any
    heldout: Any
    truth: dict[str, np.ndarray] | None
    sampler: Callable[[int, np.random.Generator], Any] | None = field(
        default=None, repr=False, compare=False
    )
    n_bad: int = 0  # records rejected while reading a file (path source, on_error="skip")
    quarantine_path: Path | None = None

    def fresh(self, n: int, rng: np.random.Generator) -> Any:
        """``n`` new real points (from ``truth``, or resampled from the real training pool)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InvalidParameterError(f"fresh: expected an integer n >= 0, got {n!r}")
        if self.sampler is None:
            raise InvalidParameterError("fresh: this RealData has no source to draw from")
        return self.sampler(int(n), rng)


# -- parameter checks ----------------------------------------------------------------------
def _err(key: str, expected: str, got: Any) -> InvalidParameterError:
    return InvalidParameterError(f"data.params.{key}: expected {expected}, got {got!r}")


def _int(params: dict[str, Any], key: str, minimum: int = 1) -> int:
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise _err(key, f"an integer >= {minimum}", v)
    return int(v)


def _float(params: dict[str, Any], key: str, *, low: float, high: float = np.inf) -> float:
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
        raise _err(key, "a number", v)
    v = float(v)
    if not (np.isfinite(v) and low <= v <= high):
        raise _err(key, f"a finite number in [{low}, {high}]", v)
    return v


def _array(params: dict[str, Any], key: str, ndim: tuple[int, ...]) -> np.ndarray:
    v = params[key]
    what = {(0, 1): "a number or a list of numbers", (1,): "a list of numbers", (2,): "a matrix"}[
        ndim
    ]
    if isinstance(v, (bool, str)):
        raise _err(key, what, v)
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise _err(key, what, v) from None
    if a.ndim not in ndim or not np.all(np.isfinite(a)) or (a.ndim and a.size == 0):
        raise _err(key, f"{what} of finite values", v)
    return a


def _resolve(source: str, params: dict[str, Any]) -> dict[str, Any]:
    allowed = PARAMS[source]
    for key in params:
        if key not in allowed:
            raise InvalidParameterError(
                f"data.params.{key}: unknown parameter for source {source!r}"
                f"{did_you_mean(key, allowed)}; expected one of {', '.join(allowed)}"
            )
    return {**allowed, **params}


def _count(params: dict[str, Any], key: str, pool: int) -> int:
    """A subsample size: default (None) is the whole pool; more than the pool is an error."""
    if params[key] is None:
        return pool
    n = _int(params, key)
    if n > pool:
        raise _err(key, f"an integer <= {pool} (the pool size)", n)
    return n


# -- synthetic sources ---------------------------------------------------------------------
def _gaussian_truth(p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    mean = _array(p, "mean", (0, 1))
    if p["cov"] is not None and p["std"] is not None:
        raise InvalidParameterError("data.params.cov/std: expected one of cov or std, got both")
    dims = {"mean": mean.size} if mean.ndim == 1 else {}
    if p["cov"] is not None:
        cov = _array(p, "cov", (2,))
        if cov.shape[0] != cov.shape[1]:
            raise _err("cov", "a square matrix", p["cov"])
        if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
            raise _err("cov", "a symmetric matrix", p["cov"])
        eig = np.linalg.eigvalsh(cov)
        if eig[0] < -1e-10 * max(1.0, abs(eig[-1])):
            raise _err(
                "cov",
                f"a positive semi-definite matrix (smallest eigenvalue {eig[0]:.3g})",
                p["cov"],
            )
        dims["cov"] = cov.shape[0]
    else:
        std = _array(p | {"std": 1.0 if p["std"] is None else p["std"]}, "std", (0, 1))
        if np.any(std < 0):
            raise _err("std", "non-negative standard deviations", p["std"])
        if std.ndim == 1:
            dims["std"] = std.size
        cov = None
    if len(set(dims.values())) > 1:
        raise InvalidParameterError(
            "data.params: expected mean, cov and std of one dimension, got "
            + ", ".join(f"{k} of dimension {v}" for k, v in dims.items())
        )
    d = next(iter(dims.values()), 1)
    if cov is None:
        cov = np.diag(np.broadcast_to(std, (d,)) ** 2)
    return np.broadcast_to(mean, (d,)).astype(np.float64), cov


def _gaussian_sampler(
    mean: np.ndarray, cov: np.ndarray
) -> Callable[[int, np.random.Generator], np.ndarray]:
    # A symmetric square root from eigh works for singular (PSD) covariances too.
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))

    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        return mean + rng.standard_normal((n, mean.size)) @ root.T

    return draw


def _categorical_truth(p: dict[str, Any]) -> np.ndarray:
    if p["probs"] is None:
        raise InvalidParameterError(
            "data.params.probs: required for source 'categorical', got nothing"
        )
    probs = _array(p, "probs", (1,))
    if np.any(probs < 0):
        raise _err("probs", "non-negative probabilities", p["probs"])
    if abs(probs.sum() - 1.0) > 1e-6:
        raise InvalidParameterError(
            f"data.params.probs: expected probabilities summing to 1 (within 1e-6), "
            f"got {p['probs']!r} summing to {probs.sum():.9g}"
        )
    return probs / probs.sum()


def _categorical_sampler(probs: np.ndarray) -> Callable[[int, np.random.Generator], np.ndarray]:
    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(probs.size, size=n, p=probs).astype(np.int64)

    return draw


def _linear_sampler(
    coef: np.ndarray, noise: float
) -> Callable[[int, np.random.Generator], np.ndarray]:
    def draw(n: int, rng: np.random.Generator) -> np.ndarray:
        X = rng.standard_normal((n, coef.size))
        y = X @ coef + noise * rng.standard_normal(n)
        return np.column_stack([X, y])

    return draw


def _synthetic(source: str, p: dict[str, Any], seed: int, replicate: int) -> RealData:
    n, n_heldout = _int(p, "n"), _int(p, "n_heldout")
    train_rng = stream(seed, replicate, 0, Role.DATA)
    if source == "gaussian":
        mean, cov = _gaussian_truth(p)
        draw = _gaussian_sampler(mean, cov)
        kind, truth = "numeric", {"mean": mean, "cov": cov}
    elif source == "categorical":
        probs = _categorical_truth(p)
        draw = _categorical_sampler(probs)
        kind, truth = "discrete", {"probs": probs}
    else:
        d, noise = _int(p, "d"), _float(p, "noise", low=0.0)
        coef = train_rng.standard_normal(d) / np.sqrt(d)  # w* ~ N(0, I/d), once per replicate
        draw = _linear_sampler(coef, noise)
        kind, truth = "regression", {"coef": coef, "noise": np.asarray(noise)}
    train = draw(n, train_rng)
    heldout = draw(n_heldout, stream(seed, replicate, 0, Role.HELDOUT))
    return RealData(kind, train, heldout, truth, sampler=draw)  # type: ignore[arg-type]


# -- datasets ------------------------------------------------------------------------------
def _take(data: Any, idx: np.ndarray) -> Any:
    return [data[i] for i in idx.tolist()] if isinstance(data, list) else np.array(data[idx])


def _pool_sampler(pool: Any) -> Callable[[int, np.random.Generator], Any]:
    size = len(pool)

    def draw(n: int, rng: np.random.Generator) -> Any:
        idx = rng.choice(size, size=n, replace=n > size) if n else np.empty(0, dtype=np.int64)
        return _take(pool, np.asarray(idx, dtype=np.int64))

    return draw


def _subsample(pool: Any, n: int, rng: np.random.Generator) -> Any:
    if n == len(pool):
        return _take(pool, np.arange(n))
    return _take(pool, np.sort(rng.choice(len(pool), size=n, replace=False)))


def _dataset(
    kind: str, train_pool: Any, held_pool: Any, n: int, n_held: int, seed: int
) -> RealData:
    train = _subsample(train_pool, n, stream(seed, 0, 0, Role.DATA))
    heldout = _subsample(held_pool, n_held, stream(seed, 0, 0, Role.HELDOUT))
    return RealData(kind, train, heldout, None, sampler=_pool_sampler(train_pool))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4)
def _read_file(
    path: str, mtime_ns: int, size: int, kind: str, text_field: str, columns: Any, on_error: str
) -> tuple[Any, Any]:
    # Keyed on mtime and size so an edited file is read again; every replicate shares one read,
    # and the quarantine count is reported once per read.
    data, info = read_data(
        path,
        kind,
        text_field=text_field,
        columns=None if columns is None else list(columns),
        on_error=on_error,
    )  # type: ignore[arg-type]
    if info.n_bad:
        log.warning(
            "%s: %d bad record(s) quarantined to %s", path, info.n_bad, info.quarantine_path
        )
    return data, info


def _path_source(p: dict[str, Any], seed: int) -> RealData:
    if p["path"] is None:
        raise InvalidParameterError("data.params.path: required for source 'path', got nothing")
    if not isinstance(p["path"], (str, Path)):
        raise _err("path", "a file path", p["path"])
    path = Path(p["path"]).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.is_file():
        raise InvalidParameterError(f"data.params.path: expected an existing file, got {path}")
    for key, choices in (
        ("kind", ("auto", "numeric", "text", "discrete")),
        ("on_error", ("fail", "skip")),
    ):
        if p[key] not in choices:
            raise _err(key, " or ".join(map(repr, choices)), p[key]) from None
    if not isinstance(p["text_field"], str):
        raise _err("text_field", "a string", p["text_field"])
    columns = p["columns"]
    if isinstance(columns, (str, int)):
        columns = [columns]
    if columns is not None and not (
        isinstance(columns, list) and all(isinstance(c, (str, int)) for c in columns)
    ):
        raise _err("columns", "a list of column names or indices", p["columns"])
    frac = _float(p, "heldout_fraction", low=0.0, high=1.0)
    if not 0.0 < frac < 1.0:
        raise _err("heldout_fraction", "a number strictly between 0 and 1", frac)
    stat = path.stat()
    data, info = _read_file(
        str(path), stat.st_mtime_ns, stat.st_size, p["kind"], p["text_field"],
        None if columns is None else tuple(columns), p["on_error"],
    )  # fmt: skip
    total = len(data)
    n_held = min(max(1, round(frac * total)), total - 1)
    if n_held < 1:
        raise InvalidParameterError(
            f"data.params.path: expected at least 2 records to split, got {total} in {path}"
        )
    perm = np.random.default_rng(0).permutation(total)  # the file's fixed split, not the seed's
    held_pool = _take(data, np.sort(perm[:n_held]))
    train_pool = _take(data, np.sort(perm[n_held:]))
    n = _count(p, "n", len(train_pool))
    real = _dataset(info.data_kind, train_pool, held_pool, n, n_held, seed)
    real.n_bad, real.quarantine_path = info.n_bad, info.quarantine_path
    return real


def load_real(cfg: DataConfig, *, seed: int, replicate: int) -> RealData:
    """The real data of one replicate for a data config (see the module docstring)."""
    for name, value in (("seed", seed), ("replicate", replicate)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InvalidParameterError(f"{name}: expected an integer >= 0, got {value!r}")
    source = cfg.source
    if source not in PARAMS:
        raise InvalidParameterError(
            f"data.source: expected one of {', '.join(PARAMS)}, got {source!r}{did_you_mean(source, PARAMS)}"
        )
    p = _resolve(source, dict(cfg.params))
    if source in ("gaussian", "categorical", "linear"):
        return _synthetic(source, p, int(seed), int(replicate))
    if source == "kjv":
        train_docs, held_docs = kjv_split()
        train_pool = [d.text for d in train_docs]
        held_pool = [d.text for d in held_docs]
        n, n_held = _count(p, "n_docs", len(train_pool)), _count(p, "n_heldout", len(held_pool))
        return _dataset("text", train_pool, held_pool, n, n_held, int(seed))
    if source == "digits":
        train_set, held_set = digits_split()
        n, n_held = _count(p, "n", len(train_set.X)), _count(p, "n_heldout", len(held_set.X))
        return _dataset("numeric", train_set.X, held_set.X, n, n_held, int(seed))
    return _path_source(p, int(seed))
