"""The contract tester itself must catch broken generators (otherwise it could never fail)."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.generators.gaussian import Gaussian
from tests.common.contract import check_generator

DATA = np.random.default_rng(0).normal(size=(30, 2))


class UsesGlobalRandom(Gaussian):
    def sample(self, n, *, rng):
        super().sample(n, rng=rng)
        return self.mean_ + np.random.standard_normal((n, self.mean_.shape[0]))


class IgnoresRng(Gaussian):  # the scikit-learn GaussianMixture.sample pitfall
    def sample(self, n, *, rng):
        return super().sample(n, rng=np.random.default_rng(0))


class FitReturnsNone(Gaussian):
    def fit(self, data, *, rng=None):
        super().fit(data, rng=rng)


class PicklesState(Gaussian):
    def state_dict(self):
        return {**super().state_dict(), "extra": np.array([{"a": 1}], dtype=object)}


class WrongDtype(Gaussian):
    def sample(self, n, *, rng):
        return super().sample(n, rng=rng).astype(np.float32)


class LosesStateOnLoad(Gaussian):
    def load_state_dict(self, state):
        return super().load_state_dict({"mean_": state["mean_"] + 1.0, "cov_": state["cov_"]})


class SharesStateAcrossClones(Gaussian):
    _shared = np.zeros(2)

    def fit(self, data, *, rng=None):
        super().fit(data, rng=rng)
        self._shared[:] = self.mean_
        self.mean_ = self._shared  # every instance aliases one buffer
        return self


@pytest.mark.parametrize(
    "cls",
    [
        UsesGlobalRandom,
        IgnoresRng,
        FitReturnsNone,
        PicklesState,
        WrongDtype,
        LosesStateOnLoad,
        SharesStateAcrossClones,
    ],
)
def test_tester_rejects_broken_generator(cls: type[Gaussian]) -> None:
    with pytest.raises(AssertionError):
        check_generator(cls, DATA)


def test_tester_accepts_correct_generator() -> None:
    check_generator(Gaussian, DATA)
