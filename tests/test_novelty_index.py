"""The database LSH index and admission, on SQLite and on a throwaway PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError, SignatureMismatchError
from nngpt_core.novelty.admission import admit, index_architecture
from nngpt_core.novelty.index import LshIndex
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.novelty.signature import (
    MinHashSignature,
    lexical_settings,
    lexical_signature,
    structural_settings,
    token_signature,
)
from nngpt_core.store.models import Architecture, Candidate, Cycle, IndexSettings, LshBand, Run, Signature

PAIRS = Path(__file__).parent / "fixtures" / "novelty_pairs"
BASES = sorted(p.stem for p in PAIRS.glob("*.py") if "__" not in p.stem)
CFG = NoveltyConfig()


def read(name: str) -> str:
    return (PAIRS / f"{name}.py").read_text()


def count(store, model) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def admit_bases(store) -> dict[str, int]:
    ids = {}
    for base in BASES:
        verdict = admit(store, read(base), novelty=CFG, name=base, origin="seed")
        assert verdict.verdict == "novel", (base, verdict)
        ids[base] = verdict.architecture_id
    return ids


def test_different_families_are_all_admitted(store):
    ids = admit_bases(store)
    assert len(set(ids.values())) == len(BASES) == count(store, Architecture)
    assert count(store, Signature) == len(BASES)
    with store.session() as session:
        settings = session.get(IndexSettings, "lexical")
        assert (settings.num_perm, settings.seed, settings.shingle_k) == (CFG.num_perm, CFG.seed, CFG.shingle_k)
        assert count(store, LshBand) == len(BASES) * settings.bands
        stored = session.get(Architecture, ids["lenet"])
        assert stored.code == read("lenet") and stored.code_hash == code_hash(read("lenet")) and stored.origin == "seed"


@pytest.mark.parametrize("transform", ["renamed", "reformatted", "renamed_reformatted"])
def test_renamed_and_reformatted_copies_are_near_duplicates_of_their_base(store, transform):
    ids = admit_bases(store)
    copies = sorted(p.stem for p in PAIRS.glob(f"*__{transform}.py"))
    assert copies
    for name in copies:
        base = name.split("__")[0]
        with store.session() as session:
            index = LshIndex.open(session, lexical_settings(CFG), CFG.lexical_threshold)
            nearest = index.query(session, lexical_signature(read(name), CFG), top_k=3)
        assert nearest[0].architecture_id == ids[base] and nearest[0].similarity == 1.0
        verdict = admit(store, read(name), novelty=CFG, name=name, origin="generated")
        assert (verdict.verdict, verdict.similar_to_id, verdict.similarity, verdict.decided_by) == (
            "near_duplicate", ids[base], 1.0, "lexical")
    assert count(store, Architecture) == len(BASES)


def test_bad_input_is_refused_before_touching_the_store(store):
    with pytest.raises(NngptError, match="not valid Python"):
        admit(store, "def broken(:\n", novelty=CFG, name="broken", origin="generated")
    with pytest.raises(NngptError, match="origin 'llm'"):
        admit(store, read("mlp"), novelty=CFG, name="mlp", origin="llm")
    wrong_kind = {"structural": lexical_signature(read("mlp"), CFG)}
    with pytest.raises(NngptError, match="lexical signature was given as structural"):
        admit(store, read("mlp"), novelty=CFG, name="mlp", origin="seed", extra_signatures=wrong_kind)
    assert count(store, Architecture) == 0


def test_same_normalized_code_is_an_exact_duplicate(store):
    first = admit(store, read("mlp"), novelty=CFG, name="mlp", origin="seed")
    recommented = "# the same net, another comment\n" + read("mlp").replace("    return {", "    # hyperparameters\n    return {")
    verdict = admit(store, recommented, novelty=CFG, name="mlp-again", origin="generated")
    assert (verdict.verdict, verdict.similar_to_id, verdict.decided_by) == ("exact_duplicate", first.architecture_id, "code_hash")
    assert count(store, Architecture) == 1


def test_settings_are_fixed_at_first_use_and_others_refused(store):
    admit(store, read("lenet"), novelty=CFG, name="lenet", origin="seed")
    other = NoveltyConfig(num_perm=64)
    with pytest.raises(SignatureMismatchError, match="num_perm=64"):
        admit(store, read("vgg_small"), novelty=other, name="vgg", origin="seed")
    with store.session() as session, pytest.raises(SignatureMismatchError, match="seed"):
        LshIndex.open(session, lexical_settings(NoveltyConfig(seed=7)), 0.7)
    assert count(store, Architecture) == 1  # the refused admission wrote nothing


def test_a_stored_signature_with_other_settings_is_refused_on_query(store):
    admit(store, read("lenet"), novelty=CFG, name="lenet", origin="seed")
    with store.session() as session:
        session.execute(text("UPDATE signatures SET seed = 99"))
    with store.session() as session, pytest.raises(SignatureMismatchError, match="architecture"):
        index = LshIndex.open(session, lexical_settings(CFG), CFG.lexical_threshold)
        index.query(session, lexical_signature(read("lenet__renamed"), CFG))


def test_a_band_collision_alone_is_not_a_verdict(store):
    """A stored signature that shares one whole band with the query but nothing else is returned with its true, low similarity."""
    query = lexical_signature(read("se_cnn"), CFG)
    with store.session() as session:
        index = LshIndex.open(session, query.settings, CFG.lexical_threshold)
        lookalike_values = (query.hashvalues ^ np.uint32(0x5A5A5A5A)).astype(np.uint32)
        lookalike_values[: index.rows] = query.hashvalues[: index.rows]  # band 0 identical
        architecture = Architecture(code_hash="f" * 64, code="# lookalike", name="lookalike", origin="generated")
        session.add(architecture)
        session.flush()
        index.add(session, architecture.id, MinHashSignature(query.settings, lookalike_values, 10))
        nearest = index.query(session, query, top_k=5)
        assert [n.architecture_id for n in nearest] == [architecture.id]
        assert nearest[0].similarity == pytest.approx(index.rows / CFG.num_perm)
        assert index.query(session, query, min_similarity=CFG.lexical_threshold) == []
    assert admit(store, read("se_cnn"), novelty=CFG, name="se", origin="seed").verdict == "novel"


def test_crowded_buckets_are_cut_but_a_near_duplicate_still_surfaces_through_its_other_bands(store):
    """Eleven stored signatures share one band with the query (common code); the near-duplicate shares several."""
    query = lexical_signature(read("mlp_mixer"), CFG)
    rng = np.random.default_rng(0)
    with store.session() as session:
        index = LshIndex.open(session, query.settings, CFG.lexical_threshold)
        r = index.rows
        ids = []
        for i in range(12):
            values = rng.integers(0, 2**32, size=CFG.num_perm, dtype=np.uint32)
            if i < 11:
                values[:r] = query.hashvalues[:r]  # a one-band lookalike
            else:
                values[: 3 * r] = query.hashvalues[: 3 * r]  # the near-duplicate: three bands and more
                values[3 * r :: 2] = query.hashvalues[3 * r :: 2]
            architecture = Architecture(code_hash=f"{i:064x}", code=f"# {i}", name=f"n{i}", origin="generated")
            session.add(architecture)
            session.flush()
            index.add(session, architecture.id, MinHashSignature(query.settings, values, 10))
            ids.append(architecture.id)
        cut = index.query(session, query, top_k=20, bucket_rows=2)
        assert [n.architecture_id for n in cut] == [ids[-1], ids[0], ids[1]]  # band 0 cut to two, the near-duplicate via bands 1-2
        assert cut[0].similarity > 0.5 > cut[1].similarity
        assert len(index.query(session, query, top_k=20)) == 12


def test_bulk_add_stores_the_same_rows_as_single_adds(store):
    sources = [read(base) for base in BASES[:6]]
    signatures = [lexical_signature(s, CFG) for s in sources]
    with store.session() as session:
        for i, source in enumerate(sources):
            session.add(Architecture(id=i + 1, code_hash=code_hash(source), code=source, name=f"a{i}", origin="seed"))
        session.flush()
        index = LshIndex.open(session, lexical_settings(CFG), CFG.lexical_threshold)
        for i, signature in enumerate(signatures[:3]):
            index.add(session, i + 1, signature)
    with store.engine.begin() as conn:
        index.add_many(conn, [4, 5, 6], np.stack([s.hashvalues for s in signatures[3:]]), [s.size for s in signatures[3:]])
    with store.session() as session:
        stored = {row.architecture_id: row for row in session.execute(select(Signature.__table__))}
        bands = session.execute(select(LshBand.architecture_id, func.count()).group_by(LshBand.architecture_id)).all()
        for i, signature in enumerate(signatures):
            row = stored[i + 1]
            assert MinHashSignature.from_bytes(index.settings, row.hashvalues).jaccard(signature) == 1.0
            assert (row.tokens, row.scheme) == (signature.size, index.settings.scheme)
            assert index.query(session, signature, top_k=1)[0].architecture_id == i + 1
        assert sorted(n for _, n in bands) == [index.bands] * 6


def test_verdict_is_recorded_on_the_candidate_in_the_same_transaction(store):
    with store.session() as session:
        run = Run(name="r", base_model="m", dataset="d")
        session.add(run)
        session.flush()
        cycle = Cycle(run_id=run.id, index=0)
        session.add(cycle)
        session.flush()
        candidates = [Candidate(run_id=run.id, cycle_id=cycle.id, index=i, prompt="p", completion="c") for i in range(2)]
        session.add_all(candidates)
        session.flush()
        first_id, second_id = candidates[0].id, candidates[1].id
    novel = admit(store, read("vit_tiny"), novelty=CFG, name="c0", origin="generated", candidate_id=first_id)
    duplicate = admit(store, read("vit_tiny__renamed"), novelty=CFG, name="c1", origin="generated", candidate_id=second_id)
    with store.session() as session:
        first, second = session.get(Candidate, first_id), session.get(Candidate, second_id)
        assert (first.novelty, first.admitted, first.architecture_id) == ("novel", True, novel.architecture_id)
        assert (second.novelty, second.admitted, second.similar_to_id, second.similarity) == (
            "near_duplicate", False, novel.architecture_id, duplicate.similarity)
    with pytest.raises(NngptError, match="candidate 999"):
        admit(store, read("mlp"), novelty=CFG, name="x", origin="generated", candidate_id=999)
    assert count(store, Architecture) == 1  # the failed admission rolled back


def test_index_architecture_adds_a_signature_once(store):
    with store.session() as session:
        architecture = Architecture(code_hash=code_hash(read("densenet_tiny")), code=read("densenet_tiny"), name="d", origin="seed")
        session.add(architecture)
        session.flush()
        assert index_architecture(session, architecture, CFG) is True
        assert index_architecture(session, architecture, CFG) is False
        broken = Architecture(code_hash="0" * 64, code="def broken(:", name="broken", origin="seed")
        session.add(broken)
        session.flush()
        with pytest.raises(NngptError, match="broken"):
            index_architecture(session, broken, CFG)
        session.delete(broken)
    verdict = admit(store, read("densenet_tiny__reformatted"), novelty=CFG, name="copy", origin="generated")
    assert (verdict.verdict, verdict.similar_to_id) == ("near_duplicate", architecture.id)


def test_structural_signatures_share_the_tables_and_the_verdict(store):
    settings = structural_settings(CFG)
    fingerprint = ["conv3x3:16", "bn", "relu", "residual", "pool", "linear:10"]
    first = admit(store, read("resnet_basic"), novelty=CFG, name="a", origin="seed",
                  extra_signatures={"structural": token_signature(fingerprint, settings)})
    # lexically a different file (restructured), structurally the same fingerprint
    second = admit(store, read("resnet_basic__restructured"), novelty=CFG, name="b", origin="generated",
                   extra_signatures={"structural": token_signature(list(reversed(fingerprint)), settings)})
    assert first.verdict == "novel"
    assert (second.verdict, second.similar_to_id, second.decided_by) == ("near_duplicate", first.architecture_id, "structural")
    with store.session() as session:
        kinds = session.execute(select(Signature.kind).where(Signature.architecture_id == first.architecture_id)).scalars().all()
        assert sorted(kinds) == ["lexical", "structural"]
        assert session.get(IndexSettings, "structural").shingle_k is None
