"""The mix builder: the cap is never exceeded, no document is lost, duplicates and floors behave
as documented, rare words win under --favour-rare, and bad input fails clearly."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.data.document import Document, provenance
from modelcollapse.data.readers import read_documents
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.mix import allowed_synthetic, build_mix, rare_word_scores

REASONS = {
    "duplicate_exact",
    "duplicate_near",
    "synthetic_cap",
    "real_floor",
    "target_size",
    "unknown_source",
}


def doc(i: int | str, text: str, source: str = "human", generator=None, generation=None):
    prov = provenance(text, source=source, generator=generator, generation=generation)
    return Document(id=str(i), text=text, metadata={"provenance": prov, "lang": "en"})


def pool(n_h: int, n_s: int, *, unknown: int = 0) -> list[Document]:
    docs = [doc(f"h{i}", f"human sentence number {i} about sheep") for i in range(n_h)]
    docs += [
        doc(f"s{i}", f"generated text {i} of the model", "synthetic", "ngram", i % 3)
        for i in range(n_s)
    ]
    docs += [doc(f"u{i}", f"unlabelled page {i}", "unknown") for i in range(unknown)]
    return docs


def reasons(result) -> dict[str, str]:
    return {d.id: d.metadata["exclusion"]["reason"] for d in result.excluded}


def synthetic_count(result, unknown_as="synthetic") -> int:
    roles = {"human": "human", "synthetic": "synthetic", "unknown": unknown_as}
    return sum(roles[d.metadata["provenance"]["source"]] == "synthetic" for d in result.documents)


# -- the cap, exactly -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_h", "cap", "expected"),
    [
        (9, 0.1, 1),  # 1/10 <= 0.1
        (8, 0.1, 0),  # 1/9 > 0.1
        (7, 0.3, 3),  # 3/10 == 0.3 exactly (decimal 3/10, not the binary 0.2999...)
        (6, 0.3, 2),
        (3, 0.5, 3),
        (0, 0.5, 0),
        (100, 0.0, 0),
        (5, 1 / 3, 2),  # 2/7 < 1/3 < 3/8
    ],
)
def test_allowed_synthetic_is_the_largest_count_under_the_cap(n_h, cap, expected):
    s = allowed_synthetic(n_h, cap)
    assert s == expected
    assert s == 0 or s / (n_h + s) <= cap
    assert (s + 1) / (n_h + s + 1) > cap


def test_cap_one_admits_everything_and_cap_zero_nothing():
    assert allowed_synthetic(5, 1.0) is None
    everything = build_mix(pool(3, 7), max_synthetic_fraction=1.0, rng=0)
    assert len(everything.documents) == 10 and not everything.excluded
    nothing = build_mix(pool(3, 7), max_synthetic_fraction=0.0, rng=0)
    assert [d.id for d in nothing.documents] == ["h0", "h1", "h2"]
    assert set(reasons(nothing).values()) == {"synthetic_cap"}
    assert nothing.manifest["synthetic_share"] == 0.0


def test_basic_mix_counts_reasons_and_manifest():
    result = build_mix(pool(18, 10), max_synthetic_fraction=0.1, rng=1)
    m = result.manifest
    assert (m["n_human"], m["n_synthetic"], m["n_mix"], m["n_excluded"]) == (18, 2, 20, 8)
    assert m["synthetic_share"] == 0.1
    assert m["input"]["by_source"] == {"human": 18, "synthetic": 10}
    assert m["mix"]["by_source"] == {"human": 18, "synthetic": 2}
    assert sum(m["mix"]["by_generation"].values()) == 20
    assert m["input"]["by_generator"] == {"(none)": 18, "ngram": 10}
    assert m["excluded_by_reason"] == {"synthetic_cap": 8}
    assert m["settings"]["max_synthetic_fraction"] == 0.1
    # the mix keeps input order and the very same documents
    ids = [d.id for d in result.documents]
    assert ids == sorted(ids, key=lambda x: (x[0] != "h", int(x[1:])))


def test_excluded_documents_keep_their_metadata_and_input_is_not_mutated():
    docs = pool(2, 5)
    before = [dict(d.metadata) for d in docs]
    result = build_mix(docs, max_synthetic_fraction=0.5, rng=0)
    assert [d.metadata for d in docs] == before
    for d in result.excluded:
        original = next(x for x in docs if x.id == d.id)
        assert d.metadata["provenance"] == original.metadata["provenance"]
        assert d.metadata["lang"] == "en"
        assert d.metadata["exclusion"] == {"step": "mix", "reason": "synthetic_cap"}


# -- duplicates -----------------------------------------------------------------------------------
def test_exact_duplicates_keep_the_human_copy_whatever_the_order():
    docs = [
        doc("s", "In the beginning God created the heaven.", "synthetic"),
        doc("h", "in the beginning, god created the HEAVEN"),
        doc("h2", "In the beginning God created the heaven"),
    ]
    result = build_mix(docs, max_synthetic_fraction=1.0, rng=0)
    assert [d.id for d in result.documents] == ["h"]
    ex = {d.id: d.metadata["exclusion"] for d in result.excluded}
    assert ex["s"] == {"step": "mix", "reason": "duplicate_exact", "duplicate_of": "h"}
    assert ex["h2"]["reason"] == "duplicate_exact"
    assert result.manifest["duplicates_removed"] == {"exact": 2, "near": 0}
    kept = build_mix(docs, max_synthetic_fraction=1.0, rng=0, dedup="none")
    assert len(kept.documents) == 3


def test_near_duplicates_are_removed_only_in_near_mode():
    base = (
        "And God said, Let there be light: and there was light. And God saw the light, that it "
        "was good: and God divided the light from the darkness."
    )
    edited = base.replace("divided", "separated")
    other = "Blessed are the meek: for they shall inherit the earth, and all that is therein."
    docs = [doc("h", base), doc("s", edited, "synthetic"), doc("o", other, "synthetic")]
    exact = build_mix(docs, max_synthetic_fraction=1.0, rng=0, dedup="exact")
    assert len(exact.documents) == 3
    near = build_mix(docs, max_synthetic_fraction=1.0, rng=0, dedup="near")
    assert [d.id for d in near.documents] == ["h", "o"]
    (ex,) = near.excluded
    assert ex.metadata["exclusion"]["reason"] == "duplicate_near"
    assert ex.metadata["exclusion"]["duplicate_of"] == "h"
    assert ex.metadata["exclusion"]["jaccard"] >= 0.8
    assert near.manifest["duplicates_removed"] == {"exact": 0, "near": 1}
    # a stricter threshold than the pair's similarity keeps both
    strict = build_mix(docs, max_synthetic_fraction=1.0, rng=0, dedup="near", near_threshold=0.99)
    assert len(strict.documents) == 3


# -- unknown sources, floors, sizes ---------------------------------------------------------------
def test_unknown_counts_as_synthetic_by_default():
    docs = pool(9, 0, unknown=5)
    result = build_mix(docs, max_synthetic_fraction=0.1, rng=0)
    assert result.manifest["n_synthetic"] == 1
    assert result.manifest["mix"]["by_source"] == {"human": 9, "unknown": 1}
    as_human = build_mix(docs, max_synthetic_fraction=0.1, rng=0, unknown_as="human")
    assert len(as_human.documents) == 14 and as_human.manifest["n_synthetic"] == 0
    dropped = build_mix(docs, max_synthetic_fraction=0.1, rng=0, unknown_as="exclude")
    assert set(reasons(dropped).values()) == {"unknown_source"}
    assert len(dropped.documents) == 9


def test_real_floor_keeps_that_share_of_human_documents():
    result = build_mix(pool(10, 10), max_synthetic_fraction=0.5, real_floor=0.35, rng=3)
    m = result.manifest
    assert m["n_human"] == 4  # ceil(0.35 * 10) = ceil(3.5)
    assert m["n_synthetic"] == 4  # 4 / 8 = 0.5
    assert list(reasons(result).values()).count("real_floor") == 6
    assert (
        build_mix(pool(10, 0), max_synthetic_fraction=0.5, real_floor=0.3, rng=0).manifest[
            "n_human"
        ]
        == 3
    )  # 0.3 * 10 is exactly 3 (decimal arithmetic, no spurious ceil to 4)


def test_target_size_fills_synthetic_up_to_the_cap():
    result = build_mix(
        pool(50, 50), max_synthetic_fraction=0.2, real_floor=0.1, target_size=40, rng=0
    )
    m = result.manifest
    assert (m["n_human"], m["n_synthetic"], m["n_mix"]) == (32, 8, 40)
    assert list(reasons(result).values()).count("target_size") == 18
    assert list(reasons(result).values()).count("synthetic_cap") == 42


def test_target_size_floor_wins_over_synthetic():
    result = build_mix(
        pool(50, 50), max_synthetic_fraction=0.5, real_floor=0.9, target_size=50, rng=0
    )
    m = result.manifest
    assert (m["n_human"], m["n_synthetic"]) == (45, 5)
    assert set(reasons(result).values()) == {"target_size"}


def test_target_size_with_too_few_humans_falls_short():
    result = build_mix(pool(8, 50), max_synthetic_fraction=0.2, target_size=100, rng=0)
    m = result.manifest
    assert (m["n_human"], m["n_synthetic"], m["target_shortfall"]) == (8, 2, 90)


def test_target_size_below_the_floor_is_an_error():
    with pytest.raises(
        InvalidParameterError, match=r"target_size: expected at least .* = 10, got 5"
    ):
        build_mix(pool(10, 10), max_synthetic_fraction=0.5, target_size=5, rng=0)


# -- tail preservation ----------------------------------------------------------------------------
def test_rare_word_scores_are_idf_sums_of_rare_human_words():
    human = ["the cat sat", "the dog sat", "the cat ran", "a bird"]
    # rare_fraction 0.25 of 4 docs -> df <= 1: dog, ran, a, bird (log 4 each)
    scores = rare_word_scores(
        human, ["the dog ran", "the cat", "zebra bird bird"], rare_fraction=0.25
    )
    np.testing.assert_allclose(scores, [2 * math.log(4), 0.0, math.log(4)])
    # with rare_fraction 0.5 -> df <= 2: cat and sat count too (log 2)
    scores = rare_word_scores(human, ["the cat sat"], rare_fraction=0.5)
    np.testing.assert_allclose(scores, [2 * math.log(2)])


def test_favour_rare_prefers_synthetic_documents_with_rare_words():
    human = [doc(f"h{i}", f"common words here {i} and sheep") for i in range(19)]
    human.append(doc("h19", "the leviathan behemoth dwelt"))
    synthetic = [doc(f"s{i}", f"common words here again {i}", "synthetic") for i in range(30)]
    synthetic.insert(17, doc("rare", "a leviathan and a behemoth", "synthetic"))
    docs = human + synthetic
    for seed in range(5):
        res = build_mix(docs, max_synthetic_fraction=0.05, favour_rare=True, rng=seed)
        assert [d.id for d in res.documents if d.id[0] != "h"] == ["rare"]
    picked = {
        next(
            d.id
            for d in build_mix(docs, max_synthetic_fraction=0.05, rng=s).documents
            if d.id[0] != "h"
        )
        for s in range(8)
    }
    assert len(picked) > 1  # without favour_rare the pick is random


# -- properties -----------------------------------------------------------------------------------
TEXTS = st.text(alphabet="ab ", min_size=0, max_size=6)
SOURCES = st.sampled_from(["human", "synthetic", "unknown"])


@st.composite
def pools(draw):
    n = draw(st.integers(0, 40))
    return [
        doc(
            f"d{i}",
            draw(TEXTS),
            draw(SOURCES),
            draw(st.sampled_from([None, "ngram", "hf"])),
            draw(st.sampled_from([None, 0, 1])),
        )
        for i in range(n)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=pools(),
    cap=st.floats(0, 1) | st.sampled_from([0.0, 0.1, 0.3, 1 / 3, 1.0]),
    floor=st.floats(0, 1) | st.just(1.0),
    dedup=st.sampled_from(["exact", "near", "none"]),
    favour_rare=st.booleans(),
    size=st.none() | st.integers(1, 50),
    unknown_as=st.sampled_from(["synthetic", "human", "exclude"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_cap_never_exceeded_and_nothing_lost(
    docs, cap, floor, dedup, favour_rare, size, unknown_as, seed
):
    kw = dict(
        max_synthetic_fraction=cap, real_floor=floor, dedup=dedup, favour_rare=favour_rare,
        target_size=size, unknown_as=unknown_as,
    )  # fmt: skip
    try:
        result = build_mix(docs, rng=seed, **kw)
    except InvalidParameterError as exc:
        assert size is not None and "target_size" in str(exc)
        return
    n_syn = synthetic_count(result, unknown_as)
    n_mix = len(result.documents)
    c = Fraction(repr(cap))
    assert n_syn * c.denominator <= c.numerator * n_mix  # exact
    assert n_mix == 0 or n_syn / n_mix <= cap  # and as the float a user computes
    assert size is None or n_mix <= size
    # nothing lost, nothing duplicated, every drop explained
    ids = [d.id for d in result.documents] + [d.id for d in result.excluded]
    assert sorted(ids) == sorted(d.id for d in docs)
    assert all(d.metadata["exclusion"]["reason"] in REASONS for d in result.excluded)
    m = result.manifest
    assert m["n_mix"] + m["n_excluded"] == m["n_input"] == len(docs)
    assert sum(m["excluded_by_reason"].values()) == len(result.excluded)
    assert sum(m["mix"]["by_source"].values()) == n_mix
    assert m["n_synthetic"] == n_syn
    # the real floor holds
    n_h_mix = sum(
        (d.metadata["provenance"]["source"] == "human")
        or (unknown_as == "human" and d.metadata["provenance"]["source"] == "unknown")
        for d in result.documents
    )
    assert n_h_mix >= math.ceil(Fraction(repr(floor)) * m["n_human_unique"])
    # deterministic for a given seed
    again = build_mix(docs, rng=np.random.default_rng(seed), **kw)
    assert [d.id for d in again.documents] == [d.id for d in result.documents]
    assert again.manifest == m


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_synthetic_fraction": math.nan}, "max_synthetic_fraction: expected a number in"),
        ({"max_synthetic_fraction": -0.1}, "max_synthetic_fraction"),
        ({"max_synthetic_fraction": 1.5}, "max_synthetic_fraction"),
        ({"max_synthetic_fraction": math.inf}, "max_synthetic_fraction"),
        ({"max_synthetic_fraction": True}, "max_synthetic_fraction"),
        ({"max_synthetic_fraction": "0.1"}, "max_synthetic_fraction"),
        ({"real_floor": math.nan}, "real_floor"),
        ({"real_floor": 2.0}, "real_floor"),
        ({"dedup": "fuzzy"}, "dedup: expected one of"),
        ({"unknown_as": "maybe"}, "unknown_as"),
        ({"target_size": 0}, "target_size"),
        ({"target_size": 2.5}, "target_size"),
        ({"dedup": "near", "near_threshold": 1.0}, "near_threshold"),
        ({"rare_fraction": -1}, "rare_fraction"),
        ({"favour_rare": "yes"}, "favour_rare"),
    ],
)
def test_bad_parameters_are_clear_errors(kw, match):
    args = {"max_synthetic_fraction": 0.1, **kw}
    with pytest.raises(InvalidParameterError, match=match):
        build_mix(pool(3, 3), rng=0, **args)


def test_documents_without_provenance_are_refused():
    docs = [*pool(2, 2), Document("bare", "no label at all", {})]
    with pytest.raises(
        DataError, match=r"document 'bare' \(input 4\): expected metadata\['provenance'\]"
    ):
        build_mix(docs, max_synthetic_fraction=0.1, rng=0)
    odd = [doc("x", "text", "synthetic")]
    odd[0].metadata["provenance"]["source"] = "robot"
    with pytest.raises(DataError, match="expected provenance source in"):
        build_mix(odd, max_synthetic_fraction=0.1, rng=0)
    with pytest.raises(InvalidParameterError, match="expected a Document, got str"):
        build_mix(["plain text"], max_synthetic_fraction=0.1, rng=0)


def test_empty_input_gives_an_empty_mix():
    result = build_mix([], max_synthetic_fraction=0.1, rng=0)
    assert result.documents == [] and result.excluded == []
    assert result.manifest["synthetic_share"] is None


# -- files ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_write_round_trips_provenance_and_reasons(tmp_path, ext):
    docs = pool(5, 5)
    result = build_mix(docs, max_synthetic_fraction=0.2, rng=0)
    out, ex, man = tmp_path / f"mix.{ext}", tmp_path / f"ex.{ext}", tmp_path / "m.json"
    result.write(out, exclusions=ex, manifest=man)
    back = read_documents(out).documents
    assert [(d.id, d.text, d.metadata) for d in back] == [
        (d.id, d.text, d.metadata) for d in result.documents
    ]
    excluded = read_documents(ex).documents
    assert {d.id: d.metadata["exclusion"]["reason"] for d in excluded} == reasons(result)
    assert all(d.metadata["provenance"]["source"] == "synthetic" for d in excluded)
    import json

    assert json.loads(man.read_text())["n_mix"] == len(back)
    with pytest.raises(InvalidParameterError, match="distinct"):
        result.write(out, exclusions=out)
    with pytest.raises(InvalidParameterError, match=r"expected a \.jsonl"):
        result.write(tmp_path / "mix.csv", exclusions=ex)
