"""Pipeline: kept + excluded == input in every step, drops reach the exclusion file with their
step and reason, and broken steps are caught instead of losing documents."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.document import Document, provenance
from modelcollapse.data.readers import read_documents
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.pipeline import (
    ExclusionSink,
    Filter,
    Step,
    StepAccountingError,
    run_pipeline,
)


def _bucket(doc: Document, salt: str, modulus: int) -> int:
    return int(hashlib.sha256((salt + doc.id).encode()).hexdigest(), 16) % modulus


class HashFilter(Filter):
    """Drops a pseudo-random subset: documents whose salted id hash is 0 mod ``modulus``."""

    def __init__(self, salt: str, modulus: int, reasons: list[str], name: str):
        super().__init__(name=name)
        self.salt, self.modulus, self.reasons = salt, modulus, reasons

    def decide(self, doc):
        if _bucket(doc, self.salt, self.modulus) == 0:
            return self.reasons[len(doc.text) % len(self.reasons)]
        return None


class Annotate(Step):
    """A general step: tags kept documents, excludes empty texts itself."""

    def run(self, docs, exclude):
        for doc in docs:
            if not doc.text:
                exclude(doc, "empty")
            else:
                doc.metadata["seen"] = True
                yield doc


@st.composite
def corpora(draw):
    n = draw(st.integers(0, 40))
    texts = draw(st.lists(st.text(max_size=12), min_size=n, max_size=n))
    return [
        Document(f"d{i}", t, {"provenance": provenance(t, source="synthetic")})
        for i, t in enumerate(texts)
    ]


@st.composite
def filter_specs(draw):
    n = draw(st.integers(0, 4))
    return [
        (
            draw(st.text(alphabet="xyz", max_size=3)),
            draw(st.integers(1, 4)),
            draw(st.lists(st.sampled_from(["short", "dup", "ai"]), min_size=1, max_size=3)),
        )
        for _ in range(n)
    ]


@settings(max_examples=60, deadline=None)
@given(docs=corpora(), specs=filter_specs(), annotate_first=st.booleans())
def test_counts_add_up_and_every_drop_is_recorded(tmp_path_factory, docs, specs, annotate_first):
    steps: list[Step] = [HashFilter(s, m, r, name=f"f{i}") for i, (s, m, r) in enumerate(specs)]
    steps.insert(0 if annotate_first else len(steps), Annotate())
    # What should happen, computed independently of the pipeline.
    expected_kept, expected_drops = [], {}
    for doc in docs:
        for step in steps:
            reason = (
                ("empty" if not doc.text else None)
                if isinstance(step, Annotate)
                else step.decide(doc)
            )
            if reason is not None:
                expected_drops[doc.id] = (step.name, reason)
                break
        else:
            expected_kept.append(doc.id)

    path = tmp_path_factory.mktemp("p") / "excluded.jsonl"
    stats = run_pipeline(docs, steps, exclusions_path=path)

    assert stats.n_input == len(docs)
    assert stats.n_output + stats.n_excluded == stats.n_input
    assert [d.id for d in stats.documents] == expected_kept
    n_in = len(docs)
    for s in stats.steps:
        assert s.n_in == n_in and s.n_kept + s.n_excluded == s.n_in
        assert sum(s.reasons.values()) == s.n_excluded
        n_in = s.n_kept
    excluded = read_documents(path, on_error="fail").documents if expected_drops else []
    assert path.exists()
    got = {
        d.id: (d.metadata["exclusion"]["step"], d.metadata["exclusion"]["reason"]) for d in excluded
    }
    assert got == expected_drops
    by_id = {d.id: d for d in docs}
    for d in excluded:  # metadata untouched apart from the exclusion record
        assert {k: v for k, v in d.metadata.items() if k != "exclusion"} == by_id[d.id].metadata


def test_standalone_steps_compose_and_keep_their_own_exclusions():
    docs = [Document(str(i), "x" * i) for i in range(6)]
    short = Filter.from_function(lambda d: "short" if len(d.text) < 2 else None, name="short")

    def odd(doc):
        return "odd" if len(doc.text) % 2 else None

    odd_filter = Filter.from_function(odd)
    kept = list(odd_filter(short(docs)))
    assert [d.id for d in kept] == ["2", "4"]
    assert odd_filter.name == "odd"
    assert [d.id for d in short.exclusions.documents] == ["0", "1"]
    assert [d.metadata["exclusion"] for d in odd_filter.exclusions.documents] == [
        {"step": "odd", "reason": "odd"}
    ] * 2
    assert (short.stats.n_in, short.stats.n_kept, short.stats.n_excluded) == (6, 4, 2)
    assert docs[0].metadata == {}  # the original documents are not mutated


def test_empty_exclusion_file_is_written_and_output_streams(tmp_path):
    docs = [Document("a", "t", {"provenance": provenance("t", source="human")})]
    for suffix in (".jsonl", ".parquet"):
        excl = tmp_path / f"ex{suffix}"
        out = tmp_path / f"out{suffix}"
        stats = run_pipeline(docs, [], exclusions_path=excl, output_path=out)
        assert stats.documents is None and stats.n_output == 1 and stats.n_excluded == 0
        assert excl.exists() and read_documents(out).documents == docs
        assert json.loads(json.dumps(stats.to_dict()))["exclusions_path"] == str(excl)


class Swallow(Step):
    def run(self, docs, exclude):
        for i, doc in enumerate(docs):
            if i != 1:
                yield doc


class Duplicate(Step):
    def run(self, docs, exclude):
        for doc in docs:
            yield doc
            yield doc


class StopEarly(Step):
    def run(self, docs, exclude):
        yield next(docs)


class Strings(Step):
    def run(self, docs, exclude):
        for doc in docs:
            yield doc.text


@pytest.mark.parametrize(
    ("step", "match"),
    [
        (Swallow(), r"kept \+ excluded == input, got 2 \+ 0 != 3"),
        (Duplicate(), r"got 6 \+ 0 != 3"),
        (StopEarly(), "consume all its input"),
        (Strings(), "yield Documents"),
    ],
)
def test_broken_steps_are_caught(tmp_path, step, match):
    docs = [Document(str(i), "t") for i in range(3)]
    with pytest.raises(StepAccountingError, match=match):
        run_pipeline(docs, [step], exclusions_path=tmp_path / "ex.jsonl")
    assert not (tmp_path / "ex.jsonl").exists()


def test_bad_arguments_are_refused_before_running(tmp_path):
    docs = [Document("a", "t")]
    keep = Filter.from_function(lambda d: None, name="keep")
    with pytest.raises(InvalidParameterError, match="exclusions_path"):
        run_pipeline(docs, [keep], exclusions_path=tmp_path / "ex.txt")
    with pytest.raises(InvalidParameterError, match="output_path"):
        run_pipeline(docs, [keep], exclusions_path=None, output_path=tmp_path / "o.csv")
    with pytest.raises(InvalidParameterError, match="duplicates"):
        run_pipeline(docs, [keep, keep], exclusions_path=None)
    with pytest.raises(InvalidParameterError, match="expected a Step"):
        run_pipeline(docs, [lambda d: None], exclusions_path=None)  # type: ignore[list-item]
    bad = Filter.from_function(lambda d: "", name="bad")
    with pytest.raises(InvalidParameterError, match="non-empty reason"):
        run_pipeline(docs, [bad], exclusions_path=None)
    with pytest.raises(InvalidParameterError, match="expected Document"):
        run_pipeline(["text"], [keep], exclusions_path=None)  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="different output and exclusion"):
        run_pipeline(
            docs, [keep], exclusions_path=tmp_path / "x.jsonl", output_path=tmp_path / "x.jsonl"
        )
    with pytest.raises(InvalidParameterError, match="callable"):
        Filter.from_function("nope")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_sink_replaces_an_older_exclusion_record():
    sink = ExclusionSink()
    doc = Document("a", "t", {"exclusion": {"step": "old", "reason": "x"}, "k": 1})
    sink.add(doc, "new", "y")
    assert sink.documents[0].metadata == {"exclusion": {"step": "new", "reason": "y"}, "k": 1}
    assert sink.close() is None and len(sink) == 1


class NoSuperInit(Filter):
    def __init__(self, limit: int):  # forgets super().__init__(): still a working step
        self.limit = limit

    def decide(self, doc):
        return "long" if len(doc.text) > self.limit else None


def test_a_subclass_that_skips_super_init_still_works():
    step = NoSuperInit(1)
    kept = list(step([Document("a", "x"), Document("b", "xyz")]))
    assert [d.id for d in kept] == ["a"] and step.name == "no_super_init"
    assert step.stats.n_excluded == 1 and step.exclusions.documents[0].id == "b"
