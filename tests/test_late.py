"""Late interaction: the token vectors the build stores, and MaxSim over them (qa/late.py)."""
from __future__ import annotations

import numpy as np

from qa import build_index, Retriever
from qa.embedding import Embedder
from qa.indexing import body_offset, embedding_text
from qa.late import dequantize, late_scores, quantize, query_matrix, token_sentences
from qa.store import load_generation

HARBOUR = """# The harbour museum

The museum keeps 340 ship models in its east wing, the largest collection in the region.

# Visitors

The museum is loved by visitors and has a long history of exhibitions and events.
"""


def test_stored_token_vectors_are_the_encoders_own(interview_index):
    gen = load_generation(interview_index[1])
    e = Embedder()
    ids = [0, len(gen.records) // 2, len(gen.records) - 1]
    _, toks = e.encode_tokens([embedding_text(gen.records[i]) for i in ids], len(ids))
    for i, t in zip(ids, toks):
        a, b = gen.token_first[i], gen.token_first[i + 1]
        stored = dequantize(gen.token_vectors[a:b], gen.token_scales[a:b])
        assert stored.shape == t.vectors.shape and 0 < len(stored) <= 256 - 2  # special tokens left out
        cos = (stored * t.vectors.astype(np.float32)).sum(axis=1) / np.linalg.norm(stored, axis=1)
        assert cos.min() > 0.999  # int8 with a scale per token
        assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=0.01)
    assert gen.token_first[-1] == len(gen.token_vectors) == len(gen.token_scales)


def test_quantize_round_trips_within_the_scale():
    v = np.random.default_rng(0).standard_normal((50, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q, s = quantize(v)
    assert q.dtype == np.int8 and s.dtype == np.float32 and np.abs(q).max() == 127
    assert np.all(np.abs(dequantize(q, s) - v) <= s[:, None] / 2 + 1e-7)
    empty_q, empty_s = quantize(np.zeros((0, 384), np.float32))
    assert empty_q.shape == (0, 384) and empty_s.shape == (0,)


def test_query_tokens_drop_stop_words_and_punctuation():
    _, tv = Embedder().encode_query_tokens("How many ship models does the museum keep?")
    assert tv.tokens == ("how", "many", "ship", "models", "does", "the", "museum", "keep", "?")
    q = query_matrix(tv)
    kept = [t for t in tv.tokens if t in ("many", "ship", "models", "museum", "keep")]
    assert q.shape == (len(kept), tv.vectors.shape[1])
    assert np.allclose(q, tv.vectors[[tv.tokens.index(t) for t in kept]].astype(np.float32))


def test_maxsim_is_the_mean_best_token_cosine(interview_index):
    gen = load_generation(interview_index[1])
    _, tv = Embedder().encode_query_tokens("What is the total revenue of the park?")
    q = query_matrix(tv)
    ids = np.array([3, 0, len(gen.records) - 1, 3])
    got = late_scores(q, gen.token_vectors, gen.token_scales, gen.token_first, ids).passages
    for i, g in zip(ids, got):
        a, b = gen.token_first[i], gen.token_first[i + 1]
        p = dequantize(gen.token_vectors[a:b], gen.token_scales[a:b])
        want = np.mean([max(float(row @ tok) for tok in p) for row in q])
        assert abs(g - want) < 1e-5
    assert got[0] == got[3] and -1.0 <= got.min() and got.max() <= 1.0


def test_maxsim_prefers_the_passage_with_the_particulars(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    gen = load_generation(tmp_path / "index")
    _, tv = Embedder().encode_query_tokens("How many ship models does the museum keep?")
    scores = late_scores(query_matrix(tv), gen.token_vectors, gen.token_scales, gen.token_first,
                         np.arange(len(gen.records))).passages
    best = gen.records[int(np.argmax(scores))]
    assert "340 ship models" in best.text and len(gen.records) == 2
    assert Retriever.load(tmp_path / "index").search("How many ship models does the museum keep?", k=1)[0].text == best.text


def test_a_rebuild_keeps_the_token_vectors_of_unchanged_passages(workspace):
    corpus, index = workspace
    old = load_generation(index)
    (corpus / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    assert build_index(corpus, index).embedded == 2
    new = load_generation(index)
    def rows(gen, r):
        a, b = gen.token_first[r.id], gen.token_first[r.id + 1]
        return np.asarray(gen.token_vectors[a:b]), gen.token_scales[a:b]

    kept = {r.hash: rows(new, r) for r in new.records}
    for r in old.records:
        (nv, ns), (ov, os_) = kept[r.hash], rows(old, r)
        assert np.array_equal(nv, ov) and np.array_equal(ns, os_)


def test_bulk_search_encodes_each_question_once(retriever, monkeypatch):
    questions = ["What is the total revenue of the park?", "How many enterprises are in the park?"]
    direct = [retriever.search(q, k=3) for q in questions]
    vectors = retriever.encode(questions)
    calls = []
    real = retriever._embedder.encode_tokens
    monkeypatch.setattr(retriever._embedder, "encode_tokens", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    bulk = [retriever.search(q, k=3, vector=v) for q, v in zip(questions, vectors)]
    assert calls == [] and [[h.text for h in hs] for hs in bulk] == [[h.text for h in hs] for hs in direct]


def test_maxsim_in_memory_and_memory_mapped_agree(interview_index):
    gen = load_generation(interview_index[1])
    _, tv = Embedder().encode_query_tokens("How many enterprises are in the park?")
    q, ids = query_matrix(tv), np.array([5, 1, 9, 2])
    owners = [np.arange(gen.token_first[i + 1] - gen.token_first[i]) % 3 // 2 for i in ids]  # two "sentences" each
    mapped = late_scores(q, gen.token_vectors, gen.token_scales, gen.token_first, ids, owners, [2] * 4)  # int8 rows gathered
    in_memory = late_scores(q, dequantize(gen.token_vectors, gen.token_scales), None, gen.token_first, ids,
                            owners, [2] * 4)  # a small index, all in memory
    assert isinstance(gen.token_vectors, np.memmap) and np.allclose(mapped.passages, in_memory.passages, atol=1e-5)
    assert np.allclose(np.stack(mapped.sentences), np.stack(in_memory.sentences), atol=1e-5)


def test_each_stored_token_row_maps_back_to_its_sentence(interview_index):
    """The tokenizer's spans of the embedded text split a passage's stored rows by sentence."""
    gen = load_generation(interview_index[1])
    e = Embedder()
    checked = 0
    for rec in gen.records:
        if not rec.sentences:
            continue
        text = embedding_text(rec)
        offsets = e.token_offsets([text])[0]
        assert len(offsets) == gen.token_first[rec.id + 1] - gen.token_first[rec.id]
        owner = token_sentences(offsets, body_offset(rec), [b - a for a, b, _ in rec.sentences])
        sents = [rec.text[a - rec.start : b - rec.start] for a, b, _ in rec.sentences]
        for (s, t), o in zip(offsets, owner):
            if o >= 0:  # the token's characters are inside the sentence it is given to
                assert text[s:t] in sents[o], (text[s:t], sents[o])
        assert (owner >= 0).any() and (np.diff(owner[owner >= 0]) >= 0).all()  # in order
        checked += 1
    assert checked == len([r for r in gen.records if r.sentences]) > 10


def test_token_sentences_leaves_the_context_and_the_cut_off_tail_out():
    # "Q?\nAb cd. Ef." : context "Q?" then the sentences "Ab cd." and "Ef."
    offsets = [(0, 1), (1, 2), (3, 5), (6, 8), (8, 9), (10, 12), (12, 13)]
    assert token_sentences(offsets, 3, [6, 3]).tolist() == [-1, -1, 0, 0, 0, 1, 1]
    assert token_sentences(offsets[:4], 3, [6, 3]).tolist() == [-1, -1, 0, 0]


def test_sentence_maxsim_matches_inside_one_sentence_only():
    # Two passages of a six-row table: rows 0-3 (sentences 0, 1, 1 and a context row) and rows 4-5.
    tokens = np.eye(6, dtype=np.float32)
    query = np.eye(6, dtype=np.float32)[[0, 1, 4]]  # three question tokens
    got = late_scores(query, tokens, None, np.array([0, 4, 6]), np.array([0, 1]),
                      [np.array([0, 1, 1, -1]), np.array([0, 0])], [3, 1])
    assert np.allclose(got.passages, [2 / 3, 1 / 3])
    first, second = got.sentences
    assert np.allclose(first[:2], [1 / 3, 1 / 3]) and np.isnan(first[2])  # sentence 2 was cut off
    assert np.allclose(second, [1 / 3])
    alone = late_scores(query, tokens, None, np.array([0, 4, 6]), np.array([1]), [np.array([0, 0])], [1])
    assert np.allclose(alone.sentences[0], second) and np.allclose(alone.passages, got.passages[1:])


def test_late_scores_of_each_sentence_agree_with_its_rows_alone(interview_index):
    """A sentence's score is the MaxSim against its own rows, whatever else is scored beside it."""
    gen = load_generation(interview_index[1])
    _, tv = Embedder().encode_query_tokens("How many enterprises are in the park?")
    q, e = query_matrix(tv), Embedder()
    ids = np.array([i for i, r in enumerate(gen.records) if len(r.sentences) > 1][:6])
    owners = [token_sentences(e.token_offsets([embedding_text(gen.records[i])])[0], body_offset(gen.records[i]),
                              [b - a for a, b, _ in gen.records[i].sentences]) for i in ids]
    got = late_scores(q, gen.token_vectors, gen.token_scales, gen.token_first, ids, owners,
                      [len(gen.records[i].sentences) for i in ids])
    for i, owner, scores in zip(ids, owners, got.sentences):
        rows = dequantize(gen.token_vectors[gen.token_first[i] : gen.token_first[i + 1]],
                          gen.token_scales[gen.token_first[i] : gen.token_first[i + 1]])
        for n, score in enumerate(scores):
            mine = rows[owner == n]
            assert np.isnan(score) if not len(mine) else abs(score - (q @ mine.T).max(axis=1).mean()) < 1e-5
        assert np.nanmax(scores) <= got.passages[list(ids).index(i)] + 1e-6  # a sentence never beats its passage


def test_the_bound_on_kept_sentence_maps_changes_no_answer(interview_index, monkeypatch):
    """Past ``OWNERS_KEPT`` passages the maps are dropped and made again, which answers the same."""
    import qa.search

    q = "How many enterprises are in the park?"
    r = Retriever.load(interview_index[1])
    want = [(h.text, h.answer_sentence, round(h.score, 6)) for h in r.search(q, k=3)]
    cache = r._gen.token_owners
    dropped = list(cache)[::2]
    for rid in dropped:  # some candidates mapped, some not: the next query must clear the rest
        del cache[rid]
    monkeypatch.setattr(qa.search, "OWNERS_KEPT", len(cache) + 1)
    assert [(h.text, h.answer_sentence, round(h.score, 6)) for h in r.search(q, k=3)] == want
    assert sorted(cache) == sorted(dropped)  # cleared, then the ones it lacked mapped again
