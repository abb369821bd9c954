"""Supervised human-vs-AI detector: character and word n-gram logistic regression.

Features (stateless, so nothing but the weights needs saving):

- character n-grams inside word boundaries (``char_wb``, default 2-5 characters) and word n-grams
  (default 1-2 tokens; a token is a run of word characters or one punctuation character, the
  project's tokenizer, :mod:`modelcollapse.data.tokenize`), each hashed into ``n_features``
  buckets with scikit-learn's :class:`~sklearn.feature_extraction.text.HashingVectorizer`
  (signed 32-bit MurmurHash3, non-alternating, so a bucket's value is a sum of counts);
- sublinear term frequency ``1 + log(count)`` (Joachims-style damping so one repeated phrase does
  not dominate a document), then each block scaled to unit L2 norm, and the two blocks stacked.

Model: L2-regularised logistic regression (``C`` the inverse regularisation strength), fitted by
Newton-CG on *unweighted* classes, so :meth:`NGramClassifier.score` is the posterior
``P(synthetic | doc)`` under the training class balance ``prior_`` (the synthetic share of the
training set). :func:`~modelcollapse.guard.estimate.estimate_with_classifier` needs exactly that
to re-weight the posteriors to another prior (Saerens et al. 2002). This is the classic
stylometric baseline for machine-text detection (e.g. Solaiman et al. 2019, "Release Strategies
and the Social Impacts of Language Models", TF-IDF n-gram logistic regression).

Saving (:meth:`NGramClassifier.save`) writes a directory with two files and **no pickle**:

- ``weights.npz``: ``coef_index`` (int64, the non-zero feature buckets), ``coef_value`` (float64)
  and ``intercept`` (float64 scalar), read back with ``np.load(allow_pickle=False)``;
- ``classifier.json``: ``format``, ``version`` (:data:`FORMAT_VERSION`), the hyperparameters,
  training counts, ``prior`` and the SHA-256 of ``weights.npz``, which :meth:`load` checks so a
  JSON file can never be paired with someone else's weights. Unknown versions are refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy import sparse
from scipy.special import expit

from modelcollapse.data.writers import atomic_path
from modelcollapse.errors import DataError, InvalidParameterError, NotFittedError
from modelcollapse.generators.ngram import check_docs
from modelcollapse.generators.validation import check_float, check_int

FORMAT = "modelcollapse.guard.NGramClassifier"
FORMAT_VERSION = 1
CONFIG_FILE = "classifier.json"
WEIGHTS_FILE = "weights.npz"
# the project's word tokenizer (data/tokenize.py): words and single punctuation characters
WORD_TOKEN_PATTERN = r"\w+|[^\w\s]"


def check_corpus(docs: Any, *, name: str = "docs", min_docs: int = 1) -> list[str]:
    """A list of at least ``min_docs`` non-blank, UTF-8-encodable str documents.

    Raises :class:`DataError` naming the first offending item: a non-str item, a blank document
    (empty or whitespace only: it carries no evidence, so drop it upstream), or a lone surrogate
    (not valid Unicode text; it usually means bytes were decoded with ``surrogateescape``).
    """
    docs = check_docs(docs, name=name, min_docs=min_docs)
    for i, doc in enumerate(docs):
        if not doc.strip():
            raise DataError(f"{name}[{i}]: expected a non-blank document, got {doc[:40]!r}")
        try:
            doc.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(
                f"{name}[{i}]: expected valid Unicode text, got a lone surrogate at position "
                f"{exc.start}"
            ) from None
    return docs


def _check_range(name: str, value: Any) -> tuple[int, int]:
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    if ok:
        lo, hi = value
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi))
        ok = ok and 1 <= lo <= hi <= 10
    if not ok:
        raise InvalidParameterError(
            f"{name}: expected (low, high) with 1 <= low <= high <= 10, got {value!r}"
        )
    return int(value[0]), int(value[1])


class NGramClassifier:
    """Character + word n-gram logistic regression; ``score(docs)`` is ``P(synthetic | doc)``.

    Hyperparameters (keyword-only, validated in ``fit``):
        char_ngrams: (low, high) character n-gram lengths, ``char_wb`` analyzer.
        word_ngrams: (low, high) word n-gram lengths.
        n_features: hash buckets per block (two blocks: characters and words).
        C: inverse L2 regularisation strength of the logistic regression.
        lowercase: lowercase text before extracting n-grams.
        max_iter: Newton-CG iteration cap.
        tol: Newton-CG stopping tolerance (scikit-learn's ``tol``).

    Learned: ``coef_`` (2 * n_features,) float64, ``intercept_`` float, ``prior_`` (synthetic
    share of the training documents), ``n_human_``, ``n_synthetic_``.
    """

    def __init__(
        self,
        *,
        char_ngrams: tuple[int, int] = (2, 5),
        word_ngrams: tuple[int, int] = (1, 2),
        n_features: int = 2**20,
        C: float = 10.0,
        lowercase: bool = True,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ):
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.n_features = n_features
        self.C = C
        self.lowercase = lowercase
        self.max_iter = max_iter
        self.tol = tol

    # -- parameters -------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The hyperparameters as JSON-ready values (ranges as lists)."""
        return {
            "char_ngrams": list(self.char_ngrams),
            "word_ngrams": list(self.word_ngrams),
            "n_features": self.n_features,
            "C": self.C,
            "lowercase": self.lowercase,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }

    def _check_params(self) -> None:
        self.char_ngrams = _check_range("char_ngrams", self.char_ngrams)
        self.word_ngrams = _check_range("word_ngrams", self.word_ngrams)
        check_int("n_features", self.n_features, low=16, high=2**24)
        check_float("C", self.C, low_inclusive=False)
        if not isinstance(self.lowercase, (bool, np.bool_)):
            raise InvalidParameterError(f"lowercase: expected a bool, got {self.lowercase!r}")
        check_int("max_iter", self.max_iter, low=1)
        check_float("tol", self.tol, low_inclusive=False)

    # -- features ---------------------------------------------------------------------------
    def _block(self, docs: list[str], analyzer: str) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.preprocessing import normalize

        ngram_range = self.char_ngrams if analyzer == "char_wb" else self.word_ngrams
        vec = HashingVectorizer(
            analyzer=analyzer,
            ngram_range=ngram_range,
            n_features=int(self.n_features),
            token_pattern=WORD_TOKEN_PATTERN,
            lowercase=bool(self.lowercase),
            alternate_sign=False,
            norm=None,
            dtype=np.float64,
        )
        X = vec.transform(docs).tocsr()
        X.data = 1.0 + np.log(X.data)  # sublinear tf; every stored count is >= 1
        return normalize(X, norm="l2", copy=False)

    def features(self, docs: Sequence[str]) -> sparse.csr_matrix:
        """The (n, 2 * n_features) sparse feature matrix of ``docs`` (characters, then words)."""
        self._check_params()
        return self._features(check_corpus(docs, min_docs=0))

    def _features(self, docs: list[str]) -> sparse.csr_matrix:
        return sparse.hstack(
            [self._block(docs, "char_wb"), self._block(docs, "word")], format="csr"
        )

    # -- fit / score ------------------------------------------------------------------------
    def fit(self, human_docs: Sequence[str], synthetic_docs: Sequence[str]) -> Self:
        """Fit on labelled documents: ``human_docs`` (label 0) and ``synthetic_docs`` (label 1)."""
        from sklearn.linear_model import LogisticRegression

        self._check_params()
        human = check_corpus(human_docs, name="human_docs")
        synthetic = check_corpus(synthetic_docs, name="synthetic_docs")
        X = self._features(human + synthetic)
        y = np.r_[np.zeros(len(human), np.int64), np.ones(len(synthetic), np.int64)]
        # Only buckets that occur in the training set can get a non-zero weight (the L2 penalty
        # pulls the rest to exactly 0), so the solver sees those columns only: 5-10x faster.
        # newton-cg is deterministic (no random_state involved), so a fit is reproducible.
        used = np.unique(X.indices)
        lr = LogisticRegression(
            C=float(self.C), solver="newton-cg", max_iter=int(self.max_iter), tol=float(self.tol)
        )
        lr.fit(X[:, used], y)
        self.coef_ = np.zeros(X.shape[1], dtype=np.float64)
        self.coef_[used] = lr.coef_[0]
        self.intercept_ = float(lr.intercept_[0])
        self.n_human_ = len(human)
        self.n_synthetic_ = len(synthetic)
        self.prior_ = len(synthetic) / (len(human) + len(synthetic))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "NGramClassifier: expected a fitted classifier; call fit or load first"
            )

    def decision_function(self, docs: Sequence[str]) -> np.ndarray:
        """The logit ``log P(synthetic|doc) - log P(human|doc)`` per document, float64 (n,)."""
        self._check_fitted()
        docs = check_corpus(docs, min_docs=0)
        if not docs:
            return np.zeros(0)
        self._check_params()
        return self._features(docs) @ self.coef_ + self.intercept_

    def score(self, docs: Sequence[str]) -> np.ndarray:
        """``P(synthetic | doc)`` under the training prior ``prior_``, float64 in [0, 1] (n,)."""
        return expit(self.decision_function(docs))

    # -- saving -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path/weights.npz`` then ``path/classifier.json`` (each atomically); return path."""
        self._check_fitted()
        path = Path(path).expanduser()
        if path.exists() and not path.is_dir():
            raise InvalidParameterError(
                f"save: expected a directory path, got existing file {path}"
            )
        path.mkdir(parents=True, exist_ok=True)
        index = np.flatnonzero(self.coef_).astype(np.int64)
        with atomic_path(path / WEIGHTS_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                coef_index=index,
                coef_value=self.coef_[index],
                intercept=np.float64(self.intercept_),
            )
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": self.get_params(),
            "n_human": self.n_human_,
            "n_synthetic": self.n_synthetic_,
            "prior": self.prior_,
            "weights_sha256": hashlib.sha256((path / WEIGHTS_FILE).read_bytes()).hexdigest(),
        }
        with atomic_path(path / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> NGramClassifier:
        """Read a classifier saved by :meth:`save`; never unpickles anything."""
        path = Path(path).expanduser()
        config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
        for f in (config_path, weights_path):
            if not f.is_file():
                raise DataError(
                    f"expected a saved classifier file {f.name}, got no such file", path=str(f)
                )
        config = _read_config(config_path)
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        if digest != config["weights_sha256"]:
            raise DataError(
                f"expected weights with sha256 {config['weights_sha256']}, got {digest} "
                "(the weights file does not belong to this classifier.json)",
                path=str(weights_path),
            )
        params = config["params"]
        try:
            clf = cls(**params)
            clf._check_params()
        except (TypeError, InvalidParameterError) as exc:
            raise DataError(
                f"expected valid hyperparameters, got {params!r} ({exc})", path=str(config_path)
            ) from None
        index, value, intercept = _read_weights(weights_path, 2 * clf.n_features)
        clf.coef_ = np.zeros(2 * clf.n_features, dtype=np.float64)
        clf.coef_[index] = value
        clf.intercept_ = intercept
        clf.n_human_, clf.n_synthetic_ = config["n_human"], config["n_synthetic"]
        clf.prior_ = config["prior"]
        return clf


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"expected a JSON object, got unreadable JSON ({exc})", path=str(path)
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        got = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise DataError(f"expected format {FORMAT!r}, got {got!r}", path=str(path))
    version = config.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise DataError(
            f"expected classifier format version {FORMAT_VERSION}, got {version!r} "
            "(written by another modelcollapse version; refit or upgrade)",
            path=str(path),
        )
    checks = {
        "params": lambda v: isinstance(v, dict),
        "n_human": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "n_synthetic": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "prior": lambda v: isinstance(v, float) and 0.0 < v < 1.0,
        "weights_sha256": lambda v: isinstance(v, str) and len(v) == 64,
    }
    for key, ok in checks.items():
        if key not in config or not ok(config[key]):
            raise DataError(
                f"expected a valid {key!r} entry, got {config.get(key)!r}", path=str(path)
            )
    if not math.isclose(
        config["prior"], config["n_synthetic"] / (config["n_human"] + config["n_synthetic"])
    ):
        raise DataError(
            f"expected prior = n_synthetic / (n_human + n_synthetic), got {config['prior']!r}",
            path=str(path),
        )
    return config


def _read_weights(path: Path, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("coef_index", "coef_value", "intercept")}
    except KeyError as exc:
        raise DataError(
            f"expected arrays coef_index, coef_value, intercept, got none named {exc}",
            path=str(path),
        ) from None
    except (ValueError, OSError, EOFError) as exc:  # pickled object arrays, a corrupt zip
        raise DataError(
            f"expected an npz file of plain arrays, got {exc}", path=str(path)
        ) from None
    index, value, intercept = arrays["coef_index"], arrays["coef_value"], arrays["intercept"]
    if (
        index.ndim != 1
        or index.dtype.kind not in "iu"
        or value.shape != index.shape
        or value.dtype.kind != "f"
    ):
        raise DataError(
            f"expected 1-D integer coef_index and float coef_value of one length, got "
            f"{index.dtype}{index.shape} and {value.dtype}{value.shape}",
            path=str(path),
        )
    if index.size and (
        index.min() < 0 or index.max() >= size or np.unique(index).size != index.size
    ):
        raise DataError(
            f"expected distinct coef_index values in [0, {size}), got out-of-range or repeated ones",
            path=str(path),
        )
    if intercept.shape != () or intercept.dtype.kind != "f":
        raise DataError(
            f"expected a float scalar intercept, got {intercept.dtype}{intercept.shape}",
            path=str(path),
        )
    if not (np.isfinite(value).all() and np.isfinite(intercept)):
        raise DataError("expected finite weights, got NaN or inf", path=str(path))
    return index.astype(np.int64), value.astype(np.float64), float(intercept)
