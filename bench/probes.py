"""Ideas measured and not kept: each one against the shipped method, on the same splits as bench/tune.py.

    python bench/probes.py [--quick] [--only tokens]

1. **More ranker evidence**, added to the ranker's features and fitted the way
   bench/tune.py fits the ranker (pairwise linear, the other domains at 0.1 of
   SQuAD's weight, 2-fold cross-validation by article, meeting or document):
   the passage's length, its position in its document, its cosine with its
   document's mean passage ("centrality": an introduction that names everyone
   matches every question a little).
2. **A nonlinear ranker**: gradient-boosted trees (scikit-learn's
   HistGradientBoostingClassifier, depth 3) on the same features.
3. **A query adapter**: a 384 x 384 linear map of the question vector, trained
   on the tune parts (softmax over each question's 30 candidates, L2 pull to
   the identity), then the candidates ordered by cosine alone, before and after.
4. **Token-level evidence for confidence**: how well the question's worst
   matched words are matched in the top passage (MiniLM token vectors, as in
   qa/late.py), added to the confidence features; logistic regression on the
   SQuAD 2.0 calibration articles, AUC on the report articles.
5. **Pseudo-relevance feedback** (Rocchio on the question vector): the
   question plus beta times the mean of the first stage's top k passages,
   renormalized; its cosine with each candidate added to the ranker's features.
6. **Document support**: how much of the first stage's 30 candidates the
   candidate's document holds (its share of them, and its share of their
   softmax-weighted fused scores): a meeting or an article that many
   candidates come from is more likely the one asked about, where a series of
   meetings shares its words.
7. **Transcript annotations left out of what is embedded**: "{vocalsound}",
   "{disfmarker}" and the like (the AMI and ICSI conventions all through
   QMSum) cost MiniLM five or six word pieces each. Every QMSum passage of
   speech re-embedded without them, then passage-only dense search for all 237
   queries over the 35 meetings, before and after. (In the product, with the
   ranker refitted by bench/tune.py, this was not kept: see the README.)
8. **Token-level evidence for the ranker**, from the MiniLM token vectors that
   MaxSim reads (qa/late.py), each added alone to the shipped ranker's features
   (pairwise linear, other domains 0.1, the shipped L2 penalty C = 0.03): MaxSim
   with each question word weighted by its IDF; the worst-matched question word
   (its best cosine in the passage); the share of question words matched at
   cosine 0.6 or more; how far apart in the passage the matched words' best
   tokens are; the MaxSim of the best 32-token window; and the four together.
9. **A learned token projection for MaxSim** (ColBERT-style): a 384 x 384 map
   of the question's and the passages' token vectors, from the identity, with
   an L2 pull back to it, trained on the SQuAD tune questions' candidates
   (softmax over each question's 30, scale 20); then the candidates ordered by
   MaxSim alone, before and after.

Also the shipped ranker refitted with other samplings of its negatives: how far
the fit's own randomness moves these figures.

Prints one line per candidate: cross-validated hit@1 per domain and their mean,
then hit@1 on the report parts (never fitted on).
"""
from __future__ import annotations

import argparse
import random

import numpy as np

import sets
import tune
from qa.late import dequantize
from quality import is_right


TOKENS: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # each index's float32 token rows and first rows (collect)


def collect(quick: bool) -> dict:
    """tune.py's candidates of every domain, with each candidate's document features and vector."""
    out = {}
    for name, (retriever, tune_q, rep_q) in tune.ranker_domains(quick, random.Random(0)).items():
        gen = retriever._gen
        pv = gen.passage_index.reconstruct_n(0, gen.passage_index.ntotal)
        by_doc: dict[str, list[int]] = {}
        for r in gen.records:
            by_doc.setdefault(r.source, []).append(r.id)
        meta = np.zeros((len(gen.records), 3))  # relative position, centrality, log length
        for ids in by_doc.values():
            ids = sorted(ids, key=lambda i: gen.records[i].start)
            centre = pv[ids].mean(axis=0)
            for j, i in enumerate(ids):
                meta[i] = (j / max(1, len(ids) - 1), float(pv[i] @ centre), np.log(len(gen.records[i].text)))
        src = np.array([r.source for r in gen.records])
        tokens = dequantize(gen.token_vectors, gen.token_scales)
        TOKENS[name] = (tokens, np.asarray(gen.token_first))
        tables = retriever._tables(gen)
        for part, qs in (("tune", tune_q), ("rep", rep_q)):
            rows = tune.collect(retriever, qs, f"{name}-{part}")
            assert len(rows) == len(qs), "a question without candidates: the rows no longer match the questions"
            rows = [dict(d, meta=np.column_stack([meta[d["ids"]], _document_support(d, src)]),
                         tokdom=name, **_token_evidence(retriever, tables, tokens, gen.token_first, q.text, d["ids"]))
                    for d, q in zip(rows, qs)]
            if name == tune.TUNE_DOCS:  # tune only, and part of the fixtures' domain (as in tune.py)
                out.setdefault(("fixtures", "tune"), []).extend(dict(d, pv=pv[d["ids"]]) for d in rows)
                break
            out.setdefault((name, part), []).extend(dict(d, pv=pv[d["ids"]]) for d in rows)
        print("collected", name, {p: len(out.get((name, p), [])) for p in ("tune", "rep")}, flush=True)
    return out


def _token_evidence(retriever, tables, tokens: np.ndarray, first: np.ndarray, question: str, ids: np.ndarray) -> dict:
    """The question's content token rows ("qm") and, per candidate ("tok"): IDF-weighted MaxSim,
    the worst-matched word, the share matched at 0.6, the spread of the matches, the best 32-token window."""
    from qa.late import kept_pieces, query_matrix
    from qa.lexical import tokenize
    from qa.search import clean_question

    cq = clean_question(question)
    tv = retriever._query_tokens.get(cq) or retriever._embedder.encode_query_tokens(cq)[1]
    qm = query_matrix(tv)
    toks = list(tv.tokens)
    words = []  # the whole word each kept piece begins, for its IDF
    for i in kept_pieces(toks):
        j, w = i + 1, toks[i]
        while j < len(toks) and toks[j].startswith("##"):
            w, j = w + toks[j][2:], j + 1
        words.append(w)
    idf = np.array([max((tables.idf(s) for s in tokenize(w)), default=0.5) for w in words]) if len(words) == len(qm) \
        else np.ones(len(qm))
    idf = np.maximum(idf, 0.1)
    out = np.zeros((len(ids), 5))
    for c, pid in enumerate(ids):
        rows = tokens[first[pid] : first[pid + 1]]
        if not len(rows) or not len(qm):
            continue
        sims = qm @ rows.T
        best, at = sims.max(axis=1), sims.argmax(axis=1)
        good = best >= 0.6
        spread = (at[good].max() - at[good].min()) / 50.0 if good.sum() >= 2 else 0.0
        window = best.mean() if sims.shape[1] <= 32 else max(
            sims[:, a : a + 32].max(axis=1).mean() for a in range(0, sims.shape[1] - 31, 8))
        out[c] = ((best * idf).sum() / idf.sum(), best.min(), good.mean(), min(spread, 5.0), window)
    return {"qm": qm, "tok": out}


def _with_tokens(data: dict, cols: list[int]) -> dict:
    return {k: [dict(d, x=np.column_stack([d["x"], d["tok"][:, cols]])) for d in v] for k, v in data.items()}


def token_projection(data: dict, lam: float) -> None:
    """Probe 9: a token projection trained on the SQuAD tune rows, then MaxSim alone before and after."""
    import torch

    eye = torch.eye(384)
    tok = {name: (torch.from_numpy(rows), first) for name, (rows, first) in TOKENS.items()}

    def scores(W, d) -> "torch.Tensor":
        table, first = tok[d["tokdom"]]
        idx = np.concatenate([np.arange(first[i], first[i + 1]) for i in d["ids"]])
        seg = torch.from_numpy(np.concatenate([np.full(first[i + 1] - first[i], j) for j, i in enumerate(d["ids"])]))
        p = table[torch.from_numpy(idx)] @ W
        q = torch.from_numpy(d["qm"]) @ W
        sims = (q / q.norm(dim=1, keepdim=True).clamp_min(1e-6)) @ (p / p.norm(dim=1, keepdim=True).clamp_min(1e-6)).T
        best = torch.full((len(q), len(d["ids"])), -2.0).scatter_reduce(1, seg.expand(len(q), -1), sims, "amax")
        return best.mean(dim=0)

    train = [d for d in data[("squad", "tune")] if d["y"].any() and not d["y"].all() and len(d["qm"])]
    W = eye.clone().requires_grad_(True)
    opt = torch.optim.Adam([W], lr=1e-3)
    for epoch in range(2):
        order = list(range(len(train))); random.Random(epoch).shuffle(order)
        for b in range(0, len(order), 16):
            loss = torch.zeros(())
            for i in order[b : b + 16]:
                s = scores(W, train[i]) * 20.0
                y = torch.from_numpy(train[i]["y"].astype(bool))
                loss = loss + torch.logsumexp(s, 0) - torch.logsumexp(s[y], 0)
            loss = loss / len(order[b : b + 16]) + lam * ((W - eye) ** 2).sum()
            opt.zero_grad(); loss.backward(); opt.step()
    W = W.detach()

    def h1(mat, rows):
        with torch.no_grad():
            return np.mean([bool(d["y"][int(torch.argmax(scores(mat, d)))]) for d in rows if len(d["qm"])])

    print(f"token projection, L2 {lam:g}: MaxSim-only hit@1, before -> after: " + " ".join(
        f"{dom} {part} {h1(eye, rows):.3f}->{h1(W, rows):.3f}" for (dom, part), rows in data.items()), flush=True)


def _document_support(d: dict, src: np.ndarray) -> np.ndarray:
    """Per candidate: its document's share of the candidates, and of their softmax-weighted fused scores."""
    from qa.confidence import RANK_FEATURES

    f = d["x"][:, RANK_FEATURES.index("fused")]
    w = np.exp((f - f.max()) / max(1e-6, float(f.std())))
    docs = src[d["ids"]]
    same = docs[:, None] == docs[None, :]
    return np.column_stack([same.mean(axis=1), (same * w).sum(axis=1) / w.sum()])


def _with_prf(data: dict, k: int, beta: float) -> dict:
    from qa.confidence import RANK_FEATURES

    fused = RANK_FEATURES.index("fused")
    out = {}
    for dom, rows in data.items():
        out[dom] = []
        for d in rows:
            top = np.argsort(-d["x"][:, fused], kind="stable")[:k]
            q = d["qv"] + beta * d["pv"][top].mean(axis=0)
            out[dom].append(dict(d, x=np.column_stack([d["x"], d["pv"] @ (q / np.linalg.norm(q))])))
    return out


def _show(name: str, fit, tr: dict, te: dict) -> None:
    cv = {k: v["hit@1"] for k, v in tune.cross_validate(fit, tr).items()}
    score = fit(tr)
    rep = {k: tune.hits_at(v, score)["hit@1"] for k, v in te.items()}
    print(f"{name:58s} cv {np.mean(list(cv.values())):.3f} "
          + " ".join(f"{k} {v:.3f}" for k, v in cv.items())
          + " | report " + " ".join(f"{k} {v:.3f}" for k, v in rep.items()), flush=True)


def _with(data: dict, cols: list[int]) -> dict:
    return {k: [dict(d, x=np.column_stack([d["x"], d["meta"][:, cols]])) for d in v] for k, v in data.items()}


def pairwise(d: dict):
    return tune.linear(tune.fit_pairwise(d, 0.1))


def boosted(d: dict):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, sw = tune.weighted_rows(d, 0.1)
    m = HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05, random_state=0)
    m.fit(x, y, sample_weight=sw)
    return m.decision_function


def adapter(tr: dict, te: dict, lam: float) -> None:
    import torch

    data = [d for v in tr.values() for d in v if d["y"].any()]
    w = tune._weights(tr, 0.1)  # the shipped ranker's weighting of the domains
    wts = torch.tensor([w[k] for k, v in tr.items() for d in v if d["y"].any()], dtype=torch.float32)
    torch.manual_seed(0)
    W = torch.zeros(384, 384, requires_grad=True)
    opt = torch.optim.Adam([W], lr=1e-3)
    eye = torch.eye(384)
    for epoch in range(3):
        order = list(range(len(data))); random.Random(epoch).shuffle(order)
        for b in range(0, len(order), 64):
            loss = torch.zeros(())
            for i in order[b : b + 64]:
                q = torch.tensor(data[i]["qv"]) @ (eye + W); q = q / q.norm()
                s = torch.tensor(data[i]["pv"]) @ q / 0.05
                y = torch.tensor(data[i]["y"])
                loss = loss - wts[i] * (torch.logsumexp(s[y], 0) - torch.logsumexp(s, 0))
            loss = loss / len(order[b : b + 64]) + lam * (W ** 2).sum()
            opt.zero_grad(); loss.backward(); opt.step()
    m = (eye + W).detach().numpy()

    def h1(rows, mat):
        rows = [d for d in rows if d["y"].any()]
        return np.mean([d["y"][int(np.argmax(d["pv"] @ (d["qv"] @ mat)))] for d in rows])

    print(f"query adapter, L2 {lam:g}: cosine-only hit@1 (questions with a right candidate), before -> after: "
          + " ".join(f"{k} tune {h1(tr[k], np.eye(384)):.3f}->{h1(tr[k], m):.3f} report {h1(te[k], np.eye(384)):.3f}"
                     f"->{h1(te[k], m):.3f}" for k in tr), flush=True)


def token_confidence() -> None:
    from sklearn.metrics import roc_auc_score

    from qa import Retriever
    from qa.late import dequantize, query_matrix
    from qa.search import clean_question

    s2, cal, rep = sets.squad_v2()
    r = Retriever.load(sets.index_for(s2))
    gen = r._gen
    tokens = dequantize(gen.token_vectors, gen.token_scales)
    parts = {}
    for part, groups in (("cal", cal), ("rep", rep)):
        qs = [q for q in s2.questions if q.group in groups]
        vecs = r.encode([q.text for q in qs])
        xs, es, ys = [], [], []
        for q, v in zip(qs, vecs):
            cq = clean_question(q.text)
            qt, cands = r._ranked(gen, cq, v.reshape(1, -1), 2)
            if not cands:
                continue
            c = cands[0].record
            a, b = gen.token_first[c.id], gen.token_first[c.id + 1]
            best = (query_matrix(r._query_tokens[cq]) @ tokens[a:b].T).max(axis=1) if b > a else np.zeros(1)
            s = np.sort(best)
            xs.append(r._confidence_x(gen, qt, cands, 0))
            es.append([s[0], s[:2].mean(), best.mean()])
            ys.append(bool(q.answerable and is_right(q, c.source, c.start, c.end, c.text)))
        parts[part] = (np.array(xs), np.array(es), np.array(ys))

    def auc(cols):
        (xc, ec, yc), (xr, er, yr) = parts["cal"], parts["rep"]
        fc, fr = np.column_stack([xc, ec[:, cols]]), np.column_stack([xr, er[:, cols]])
        # bench/tune.py's confidence fit, with the SQuAD 2.0 calibration rows alone.
        return roc_auc_score(yr, tune.linear(tune.fit_confidence({"squad2": (fc, yc)}, 0.0))(fr))

    er, yr = parts["rep"][1], parts["rep"][2]
    print("confidence AUC on the SQuAD 2.0 report articles (fitted on the calibration articles alone): "
          f"shipped features {auc([]):.3f}; + worst-matched word {auc([0]):.3f}; + two worst {auc([1]):.3f}; "
          f"+ mean (MaxSim) {auc([2]):.3f}; + all three {auc([0, 1, 2]):.3f}; alone: worst {roc_auc_score(yr, er[:, 0]):.3f}, "
          f"two worst {roc_auc_score(yr, er[:, 1]):.3f}, mean {roc_auc_score(yr, er[:, 2]):.3f}", flush=True)


def transcript_annotations() -> None:
    import re

    from qa.embedding import Embedder
    from qa.indexing import embedding_text
    from qa.store import load_generation, read_manifest

    qm = sets.qmsum(None)
    index = sets.index_for(qm)
    gen = load_generation(index, read_manifest(index))
    tags = re.compile(r"\{[A-Za-z_]+\}")
    texts = [embedding_text(r) for r in gen.records]
    clean = [" ".join(tags.sub(" ", t).split()) or t if r.kind in ("turn", "answer") else t
             for r, t in zip(gen.records, texts)]
    emb = Embedder()
    stored = gen.passage_index.reconstruct_n(0, gen.passage_index.ntotal)
    cleaned = np.asarray(emb.encode(clean), dtype=np.float32)
    qv = np.asarray(emb.encode([q.text for q in qm.questions]), dtype=np.float32)
    for name, pv in (("as stored", stored), ("annotations left out", cleaned)):
        h1 = h3 = 0
        for q, v in zip(qm.questions, qv):
            top = np.argsort(-(pv @ v))[:3]
            ok = [is_right(q, gen.records[i].source, gen.records[i].start, gen.records[i].end, gen.records[i].text)
                  for i in top]
            h1 += ok[0]; h3 += any(ok)
        n = len(qm.questions)
        print(f"QMSum, {n} queries, passage-only dense search, passages {name}: hit@1 {h1 / n:.3f} hit@3 {h3 / n:.3f}"
              f" ({sum(a != b for a, b in zip(texts, clean))} of {len(texts)} passages changed)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="600-question SQuAD samples")
    ap.add_argument("--only", choices=("tokens",), help="probes 8 and 9 alone")
    args = ap.parse_args()
    data = collect(args.quick)
    domains = sorted({k for k, _ in data}, key=["squad", "qmsum", "fixtures"].index)
    tr = {k: data[(k, "tune")] for k in domains}
    te = {k: data[(k, "rep")] for k in domains}
    if args.only != "tokens":
        others(data, tr, te)
    shipped = lambda d: tune.linear(tune.fit_pairwise(d, 0.1, C=0.03))  # noqa: E731
    _show("shipped, C = 0.03", shipped, tr, te)
    for name, cols in (("IDF-weighted MaxSim", [0]), ("worst-matched word", [1]), ("share matched at 0.6", [2]),
                       ("spread of the matches", [3]), ("best 32-token window", [4]), ("the last four", [1, 2, 3, 4])):
        _show(f"C = 0.03 + {name}", shipped, _with_tokens(tr, cols), _with_tokens(te, cols))
    for lam in (0.01, 0.001):
        token_projection(data, lam)


def others(data: dict, tr: dict, te: dict) -> None:
    """Probes 1 to 7, and the samplings of the negatives."""
    _show("shipped: pairwise linear", pairwise, tr, te)
    for name, cols in (("+ relative position", [0]), ("+ centrality", [1]), ("+ log length", [2]),
                       ("+ all three", [0, 1, 2])):
        _show(f"pairwise linear {name}", pairwise, _with(tr, cols), _with(te, cols))
    for name, cols in (("+ document share", [3]), ("+ document score mass", [4]), ("+ both", [3, 4])):
        _show(f"pairwise linear {name}", pairwise, _with(tr, cols), _with(te, cols))
    _show("gradient-boosted trees, depth 3", boosted, tr, te)
    _show("gradient-boosted trees, depth 3, + all three", boosted, _with(tr, [0, 1, 2]), _with(te, [0, 1, 2]))
    for k, beta in ((1, 0.5), (3, 0.5), (3, 1.0), (5, 0.5)):
        _show(f"pairwise linear + feedback cosine (top {k}, beta {beta:g})", pairwise,
              _with_prf(tr, k, beta), _with_prf(te, k, beta))
    # How much of a difference sampling the pairs made (the fit before every pair was used).
    for seed in (0, 1, 2, 3):
        _show(f"pairwise, 10 pairs per question sampled with seed {seed}",
              lambda d, seed=seed: tune.linear(tune.fit_pairwise(d, 0.1, random.Random(seed))), tr, te)
    for lam in (0.01, 0.3, 3.0):
        adapter(tr, te, lam)
    token_confidence()
    transcript_annotations()


if __name__ == "__main__":
    main()
