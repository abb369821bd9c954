"""Small duck-typed models for the metric tests (metrics never import generator classes)."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import multivariate_normal

from modelcollapse.data.tokenize import tokenize


class FakeGaussian:
    """A model with exact moments; ``kind`` decides whether tail coverage uses the closed form."""

    def __init__(self, mean, cov, kind: str = "gaussian"):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=float))
        self.cov = np.atleast_2d(np.asarray(cov, dtype=float))
        self.kind = kind

    def moments(self):
        return self.mean.copy(), self.cov.copy()

    def log_prob(self, x):
        x = np.asarray(x, dtype=float).reshape(-1, self.mean.shape[0])
        return np.atleast_1d(multivariate_normal(self.mean, self.cov).logpdf(x))

    def sample(self, n, *, rng):
        return rng.multivariate_normal(self.mean, self.cov, size=n)


class FakeCategorical:
    def __init__(self, probs):
        self.probs_ = np.asarray(probs, dtype=float)


class FakeLinear:
    def __init__(self, coef, intercept=0.0):
        self.coef_ = np.asarray(coef, dtype=float)
        self.intercept_ = float(intercept)


class UniformTextModel:
    """Every token (and the end-of-document token) has probability 1/V."""

    def __init__(self, vocab: int):
        self.vocab = vocab

    def token_counts(self, docs):
        return np.array([len(tokenize(d)) + 1 for d in docs], dtype=np.int64)

    def log_prob(self, docs):
        return -self.token_counts(docs) * math.log(self.vocab)
