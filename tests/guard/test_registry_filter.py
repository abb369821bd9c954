"""RegistryFilter: registered texts (exact or lightly edited) are dropped with their reason,
everything else is kept in order, in batches of any size."""

from __future__ import annotations

import pytest

from modelcollapse.data.document import Document
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.pipeline import run_pipeline
from modelcollapse.guard.registry import Registry
from modelcollapse.guard.registry_filter import RegistryFilter

GENERATED = [
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And God saw the light, that it was good: and God divided the light from the darkness.",
]
HUMAN = ["Blessed are the meek: for they shall inherit the earth.", "Jesus wept."]


@pytest.mark.parametrize("batch_size", [1, 2, 100])
def test_registered_texts_are_excluded(db_url, batch_size):
    docs = [
        Document("h0", HUMAN[0]),
        Document("g0", GENERATED[0].upper()),  # exact after normalisation
        Document("h1", HUMAN[1]),
        Document("g1", GENERATED[1].replace("darkness", "darknes")),  # near duplicate
    ]
    with Registry(db_url) as reg:
        reg.register(GENERATED)
        step = RegistryFilter(reg, batch_size=batch_size)
        stats = run_pipeline(docs, [step], exclusions_path=None)
        assert [d.id for d in stats.documents] == ["h0", "h1"]
        assert dict(stats.steps[0].reasons) == {"registry_exact": 1, "registry_near": 1}
        exact_only = RegistryFilter(reg, near=False, name="exact")
        kept = [d.id for d in exact_only(docs)]
        assert kept == ["h0", "h1", "g1"]
        assert exact_only.exclusions.documents[0].metadata["exclusion"] == {
            "step": "exact",
            "reason": "registry_exact",
        }


def test_batch_size_is_checked(tmp_path):
    with Registry(tmp_path / "r.db") as reg, pytest.raises(InvalidParameterError, match="batch"):
        RegistryFilter(reg, batch_size=0)
