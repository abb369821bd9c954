"""Monitor: versions in order, the first crossing into early or late."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.monitor import monitor, monitor_files


@pytest.fixture(scope="module")
def versions():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1500, 3))
    healthy = rng.standard_normal((1500, 3))
    x = rng.standard_normal((5000, 3))
    early = x[(np.abs(x) < 2.0).all(axis=1)][:1500]
    late = 0.5 + np.sqrt(0.1) * rng.standard_normal((1500, 3))
    return ref, [healthy, early, late, healthy]


METRICS = ["extreme_quantile_ratio", "variance", "frechet_distance", "sliced_wasserstein"]


def test_monitor_flags_the_first_crossings(versions):
    ref, cands = versions
    result = monitor(
        ref, cands, names=["a", "b", "c", "d"], rng=0, kind="numeric", metrics=METRICS,
        n_boot=40, n_boot_expensive=10,
    )  # fmt: skip
    assert [r.verdict for r in result.results] == ["healthy", "early", "late", "healthy"]
    assert (result.first_early, result.first_late) == ("b", "c")
    assert result.worst() == "late"
    doc = result.to_dict()
    assert doc["first_late"] == "c" and [v["name"] for v in doc["versions"]] == list("abcd")
    # one seed for every version: the same data gives the same numbers
    assert doc["versions"][0]["metrics"] == doc["versions"][3]["metrics"]


def test_monitor_files_and_arguments(versions, tmp_path):
    ref, cands = versions
    np.save(tmp_path / "ref.npy", ref)
    paths = []
    for i, c in enumerate(cands[:2]):
        paths.append(tmp_path / f"v{i}.npy")
        np.save(paths[-1], c)
    result = monitor_files(
        tmp_path / "ref.npy", paths, rng=1, kind="numeric", metrics=METRICS[:2], n_boot=20
    )
    assert result.names == [str(p) for p in paths]
    assert result.first_early == str(paths[1]) and result.first_late is None
    with pytest.raises(InvalidParameterError, match="at least one version"):
        monitor(ref, [], rng=0, kind="numeric")
    with pytest.raises(InvalidParameterError, match="expected 2 version names, got 1"):
        monitor(ref, cands[:2], names=["x"], rng=0, kind="numeric")
