"""Fit every learned number of ranking and confidence on one split; report on the others.

    python bench/tune.py [--quick] [--no-report] [--json OUT]

1. **Ranker** (``qa/models/ranker.json``): first-stage candidates of the tune
   parts of three domains (SQuAD v1.1 tune articles, QMSum meetings 13-35,
   the fixture tune documents, and the tune-only documents of bench/data/tune_docs
   with the fixtures' weight; see bench/sets.py), labelled by overlap with
   the gold paragraph, span or string. Alternatives: the first-stage fusion
   alone, pointwise logistic regression, and a pairwise linear ranker
   (logistic regression on feature differences of right and wrong candidates
   of one question), each with the smaller domains at 0, 0.1, 0.33 or 1 times
   SQuAD's weight. The winner has the best mean over domains of 2-fold
   cross-validated hit@1 (folds by article, meeting or document), refitted on
   all tune parts. A pairwise winner's L2 penalty is then chosen the same way,
   its cross-validation averaged over four samplings of the pairs, from
   0.001 to 1 (the default that every variant is compared with). The
   tune-only documents are fitted on (half of them in
   each fold) and never scored, so the cross-validated figures are over the
   same questions and folds whether they are there or not.
2. **Sentence model** (``qa/models/sentence.json``): sentences of right
   passages of the same tune questions, labelled by holding a gold answer;
   the fixtures' weight is chosen the same way, by sentence accuracy.
3. **Confidence** (``qa/models/confidence.json``): logistic regression on the
   top hit's evidence over the SQuAD 2.0 *calibration* articles (answerable
   and impossible questions) plus off-topic questions (the interview's
   off-topic set and SQuAD v1.1 tune questions asked of the SQuAD 2.0 corpus,
   which cannot answer them), plus the fixture and QMSum tune parts at a
   weight chosen by cross-validated log loss, then its L2 penalty (C from
   0.001 to 3) chosen the same way at that weight. The tier thresholds are chosen
   on the SQuAD 2.0 calibration articles and stored with the precision each
   was chosen for.
4. **Report** (bench/quality.py): every set, with baselines from the same run,
   written to bench/RESULTS.md.

scikit-learn is used here only; the product reads the JSON with numpy.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

import sets
from quality import is_right

MODELS = Path(__file__).resolve().parents[1] / "qa" / "models"
ANSWER_PRECISION = 0.75  # the "answer" tier: how often its top passage must be right
TUNE_DOCS = "tune documents"  # bench/data/tune_docs: fitted on with the fixtures' weight, never scored
ANSWERED_SHARE = 0.90  # answerable questions that must not be told "not in the documents", per article


def collect(retriever, qs: list[sets.Q], tag: str, depth: int = 30) -> list[dict]:
    """First-stage candidates of each question with rank features, labels and sentence features
    (and the candidates' passage ids and the question vector, for bench/probes.py)."""
    from qa.confidence import sentence_features
    from qa.search import clean_question

    vecs = retriever.encode([q.text for q in qs])  # also keeps their token vectors for _stage
    gen = retriever._gen
    tables = retriever._tables(gen)
    out = []
    for q, v in zip(qs, vecs):
        qt, cands = retriever._stage(gen, clean_question(q.text), v.reshape(1, -1), depth)
        if not cands:
            continue
        y = np.array([is_right(q, c.record.source, c.record.start, c.record.end, c.record.text) for c in cands])
        sx, sy = [], []
        for c, ok in zip(cands, y):
            if ok and q.answers and c.record.sentences:
                r = c.record
                first = int(gen.sentence_first[r.id])
                f = sentence_features(qt, tables, first, c.spoken_cos, [e - s for s, e, _ in r.sentences],
                                      c.sent_late)
                lab = [any(a in r.text[s - r.start : e - r.start] for a in q.answers) for s, e, _ in r.sentences]
                if any(lab):
                    sx.append(f); sy.append(np.array(lab))
        # The plain best sentence cosine, for the comparison with the question put to a named speaker.
        plain = np.array([float(c.sent_cos.max()) if len(c.sent_cos) else c.dense for c in cands])
        out.append({"x": np.stack([c.evidence.rank_x for c in cands]), "y": y, "group": q.group,
                    "sx": sx, "sy": sy, "ids": np.array([c.record.id for c in cands]), "qv": v,
                    "plain_best_cos": plain})
    return out


def hits_at(data: list[dict], score_fn) -> dict[str, float]:
    """hit@1 / hit@5 of reordering each question's candidates by ``score_fn`` (misses count as wrong)."""
    h1 = h5 = 0
    for d in data:
        order = np.argsort(-score_fn(d["x"]), kind="stable")
        y = d["y"][order]
        h1 += bool(y[0]); h5 += bool(y[:5].any())
    n = max(1, len(data))
    return {"hit@1": h1 / n, "hit@5": h5 / n}


def _folds(data: dict[str, list[dict]]) -> dict[str, list[set[str]]]:
    """Two folds per domain: its groups (article, meeting or document) sorted, alternating."""
    return {k: [set(sorted({d["group"] for d in v})[i::2]) for i in (0, 1)] for k, v in data.items()}


def _weights(data: dict[str, list[dict]], domain_weight: float) -> dict[str, float]:
    """Per-question weight of each domain: SQuAD counts 1 per question; every other
    domain gets ``domain_weight`` times SQuAD's total, whatever its size."""
    n_squad = max(1, len(data.get("squad", [])))
    # The tune-only documents are more of the fixtures' domain: they share its weight.
    size = {k: len(v) for k, v in data.items()}
    if TUNE_DOCS in size:
        size[TUNE_DOCS] = size["fixtures"] = size.get("fixtures", 0) + size[TUNE_DOCS]
    return {k: 1.0 if k == "squad" else domain_weight * n_squad / max(1, size[k]) for k in data}


def weighted_rows(data: dict[str, list[dict]], domain_weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate of every domain: features, labels and sample weights (mean 1), for a pointwise fit."""
    w = _weights(data, domain_weight)
    rows = [(d, w[k]) for k, ds in data.items() for d in ds]
    x = np.concatenate([d["x"] for d, _ in rows]); y = np.concatenate([d["y"] for d, _ in rows])
    sw = np.concatenate([np.full(len(d["y"]), wt) for d, wt in rows])
    return x, y, sw / sw.mean()


def fit_pointwise(data: dict[str, list[dict]], domain_weight: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y, sw = weighted_rows(data, domain_weight)
    sc = StandardScaler().fit(x)
    lr = LogisticRegression(C=1.0, max_iter=3000).fit(sc.transform(x), y, sample_weight=sw)
    return sc.mean_, sc.scale_, lr.coef_[0], float(lr.intercept_[0])


def fit_pairwise(data: dict[str, list[dict]], domain_weight: float, rnd: random.Random | None = None,
                 per_query: int = 10, C: float = 1.0):
    """Logistic regression on the differences of right and wrong candidates' standardized features.

    By default every right candidate is paired with every wrong one, each question's pairs
    weighing as much as ``per_query`` pairs together: the fit is deterministic. With ``rnd``,
    each question gets ``per_query`` pairs instead, half with its hardest negatives (best first
    stage) and half with random ones: the fit of earlier versions, whose cross-validated hit@1
    moved by up to 0.015 from one sampling to the next. ``C`` is the inverse strength of the L2
    penalty (scikit-learn's), chosen by :func:`choose_regularization`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    w = _weights(data, domain_weight)
    x = np.concatenate([d["x"] for ds in data.values() for d in ds])
    sc = StandardScaler().fit(x)
    diffs, labels, sw = [], [], []
    for k, ds in data.items():
        for d in ds:
            pos, neg = np.flatnonzero(d["y"]), np.flatnonzero(~d["y"])
            if not len(pos) or not len(neg):
                continue
            z = sc.transform(d["x"])
            if rnd is None:
                pairs = [(p, j) for p in pos for j in neg]
                pw = w[k] * per_query / len(pairs)
            else:
                pairs = [(int(rnd.choice(list(pos))), j) for j in
                         list(neg[:per_query // 2]) + rnd.sample(list(neg), min(len(neg), per_query // 2))]
                pw = w[k]
            for p, j in pairs:
                diffs += [z[p] - z[j], z[j] - z[p]]; labels += [1, 0]; sw += [pw] * 2
    sw = np.array(sw)
    lr = LogisticRegression(C=C, fit_intercept=False, max_iter=3000).fit(
        np.array(diffs), np.array(labels), sample_weight=sw / sw.mean())
    return sc.mean_, sc.scale_, lr.coef_[0], 0.0


def cross_validate(fit_score, data: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """2-fold cross-validated hit@1 / hit@5 per domain: ``fit_score`` (data -> scoring function)
    is fitted on one fold of every domain and scored on the other (folds from :func:`_folds`)."""
    folds = _folds(data)
    scored = [k for k in data if k != TUNE_DOCS]  # tune-only documents are fitted on, never scored
    sums = {k: {"hit@1": 0.0, "hit@5": 0.0} for k in scored}
    for i in (0, 1):
        score = fit_score({k: [d for d in v if d["group"] not in folds[k][i]] for k, v in data.items()})
        for k in scored:
            held = [d for d in data[k] if d["group"] in folds[k][i]]
            for m, val in hits_at(held, score).items():
                sums[k][m] += val * len(held)
    return {k: {m: val / max(1, len(data[k])) for m, val in sums[k].items()} for k in scored}


def without(fit, column: int):
    """``fit`` on every feature but ``column``, whose weight is then 0 (so the saved model
    keeps the full feature list and the product computes the same features whatever wins)."""

    def fitted(data: dict[str, list[dict]]):
        keep = [c for c in range(next(iter(data.values()))[0]["x"].shape[1]) if c != column]
        mean, scale, coef, b = fit({k: [dict(d, x=d["x"][:, keep]) for d in v] for k, v in data.items()})
        full = [np.insert(np.asarray(a, dtype=np.float64), column, fill) for a, fill in
                ((mean, 0.0), (scale, 1.0), (coef, 0.0))]
        return full[0], full[1], full[2], b

    return fitted


def _plain_best(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The rows with best_cos set back to the plain best sentence cosine."""
    from qa.confidence import RANK_FEATURES

    col = RANK_FEATURES.index("best_cos")

    def plain(d: dict) -> dict:
        x = d["x"].copy()
        x[:, col] = d["plain_best_cos"]
        return dict(d, x=x)

    return {k: [plain(d) for d in v] for k, v in data.items()}


def linear(params):
    mean, scale, coef, b = params
    scale = np.where(scale > 0, scale, 1.0)
    return lambda x: ((x - mean) / scale) @ coef + b


def save(name: str, feats, params, kind: str, **extra) -> None:
    from qa.confidence import LinearModel

    mean, scale, coef, b = params
    m = LinearModel(name, tuple(feats), np.asarray(mean), np.where(np.asarray(scale) > 0, scale, 1.0),
                    np.asarray(coef), float(b), kind)
    MODELS.mkdir(exist_ok=True)
    (MODELS / f"{name}.json").write_text(json.dumps(m.to_json(**extra), indent=1) + "\n")


# The other domains' share of the training weight, against SQuAD's: chosen by cross-validation.
DOMAIN_WEIGHTS = (0.0, 0.1, 0.33, 1.0)
# The pairwise ranker's L2 penalty (scikit-learn's C; 1.0 was the fixed default before 2026-12-07),
# and the pair samplings its cross-validation is averaged over: one sampling moves it by up to
# 0.015, more than the grid's steps do.
REGULARIZATION = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
SAMPLINGS = (0, 1, 2, 3)


def choose_regularization(tr: dict[str, list[dict]], te: dict[str, list[dict]], domain_weight: float,
                          sampled: bool) -> tuple[float, dict]:
    """The chosen pairwise ranker's C, by mean cross-validated hit@1 over domains, averaged over
    the pair samplings of :data:`SAMPLINGS` (one fit when every pair is used); ties go to the
    weaker penalty. Report hit@1 (never used to choose) is shown beside it, for the same fits."""
    table = {}
    for C in REGULARIZATION:
        cvs, reps = [], []
        for seed in (SAMPLINGS if sampled else (None,)):
            def fit(d, seed=seed, C=C):
                return fit_pairwise(d, domain_weight, None if seed is None else random.Random(seed), C=C)
            cv = cross_validate(lambda d: linear(fit(d)), tr)
            cvs.append(float(np.mean([v["hit@1"] for v in cv.values()])))
            fn = linear(fit(tr))
            reps.append({k: hits_at(v, fn)["hit@1"] for k, v in te.items() if v})
        table[C] = {"cv": float(np.mean(cvs)), "cv per sampling": cvs,
                    "report": {k: float(np.mean([r[k] for r in reps])) for k in reps[0]}}
        print(f"ranker C={C:g}: cross-validated hit@1 {table[C]['cv']:.4f} (per sampling "
              + ", ".join(f"{c:.3f}" for c in cvs) + ")  report " + "  ".join(
                  f"{k} {v:.3f}" for k, v in table[C]["report"].items()), flush=True)
    best = max(REGULARIZATION, key=lambda C: (round(table[C]["cv"], 4), C))
    return best, table


def ranker_domains(quick: bool, rnd: random.Random) -> dict[str, tuple]:
    """Each domain's first-stage retriever, tune questions and report questions."""
    from qa import Fusion, Retriever

    def first_stage(qset):
        # The ranker learns from the first stage alone, whatever models are on disk.
        return Retriever.load(sets.index_for(qset), fusion=Fusion(rerank=False))

    s1, tune, rep = sets.squad_v1()
    tune_q = [q for q in s1.questions if q.group in tune]
    rep_q = [q for q in s1.questions if q.group in rep]
    # Samples: the 2-core machine is shared, and 2,000 questions put hit@1 within about +-0.02.
    tune_q, rep_q = rnd.sample(tune_q, min(len(tune_q), 600 if quick else 2000)), rnd.sample(rep_q, 600 if quick else 2000)
    out = {"squad": (first_stage(s1), tune_q, rep_q)}
    qm = sets.qmsum(None)
    qtune, qrep = sets.qmsum_split(qm)
    out["qmsum"] = (first_stage(qm), [q for q in qm.questions if q.group in qtune],
                    [q for q in qm.questions if q.group in qrep])
    fx = sets.fixtures()
    if fx is not None:
        ftune, frep = sets.fixture_split(fx)
        out["fixtures"] = (first_stage(fx), [q for q in fx.questions if q.group in ftune],
                           [q for q in fx.questions if q.group in frep])
    td = sets.tune_documents()
    if td is not None:
        # Tune only (no report part): tune_ranker adds them to the fixtures' tune part.
        out[TUNE_DOCS] = (first_stage(td), td.questions, [])
    return out


def tune_ranker(quick: bool, rnd: random.Random) -> tuple[str, dict, dict, dict | None]:
    """Fit the ranker on the tune part of every domain; choose the method and the weight of
    the smaller domains by 2-fold cross-validation (folds by article, meeting or document)."""
    from qa.confidence import RANK_FEATURES

    t = time.perf_counter()
    tr: dict[str, list[dict]] = {}
    te: dict[str, list[dict]] = {}
    for name, (retriever, tune_q, rep_q) in ranker_domains(quick, rnd).items():
        tr[name] = collect(retriever, tune_q, f"{name}-tune")
        te[name] = collect(retriever, rep_q, f"{name}-rep")
    te.pop(TUNE_DOCS, None)  # tune only: nothing of it is reported
    print("collected", {k: (len(tr[k]), len(te.get(k, []))) for k in tr}, f"in {time.perf_counter() - t:.0f} s", flush=True)
    fused = RANK_FEATURES.index("fused")
    fitters: dict[str, object] = {"first-stage fusion (hand weights 0.2/0.2/0.4/0.2)": None}
    squad_only: set[str] = set()  # trained with the other domains' weight 0
    pairwise: dict[str, tuple[float, bool]] = {}  # pairwise variants: (domain weight, sampled pairs)
    for w in DOMAIN_WEIGHTS:
        tag = "SQuAD only" if w == 0 else f"other domains {w:g} of SQuAD's weight"
        names = [f"pointwise logistic regression, {tag}", f"pairwise linear (logistic on differences), {tag}",
                 f"pairwise linear, {tag}, without MaxSim",
                 f"pairwise linear, {tag}, 10 sampled pairs per question (the earlier fit)"]
        if w == 0:
            squad_only.update(names)
        fitters[names[0]] = (lambda w: lambda d: fit_pointwise(d, w))(w)
        fitters[names[1]] = (lambda w: lambda d: fit_pairwise(d, w))(w)
        pairwise[names[1]], pairwise[names[3]] = (w, False), (w, True)
        # The same without late interaction (qa/late.py): whether MaxSim earns its place is
        # decided here, by the same cross-validation, not assumed.
        fitters[names[2]] = (lambda w: without(lambda d: fit_pairwise(d, w), RANK_FEATURES.index("maxsim")))(w)
        fitters[names[3]] = (lambda w: lambda d: fit_pairwise(d, w, random.Random(0)))(w)

    def per_domain(data: dict[str, list[dict]], fn) -> dict[str, dict]:
        return {k: hits_at(v, fn) for k, v in data.items() if v and k != TUNE_DOCS}

    # Shown, not chosen: the same pairwise rankers with best_cos as the plain cosine, that is without
    # the question put to a speaker it names (qa.confidence.put_to); the product always computes it.
    plain = {f"pairwise linear, other domains {w:g} of SQuAD's weight, plain best_cos (no question put to "
             f"a named speaker)": (lambda w: lambda d: fit_pairwise(d, w))(w)
             for w in DOMAIN_WEIGHTS if w}
    plain_tr, plain_te = _plain_best(tr), _plain_best(te)
    results = {}
    for name, fit in {**fitters, **plain}.items():
        name_tr, name_te = (plain_tr, plain_te) if name in plain else (tr, te)
        if fit is None:
            fn = lambda x: x[:, fused]  # noqa: E731
            cv = per_domain(name_tr, fn); params = None
        else:
            cv = cross_validate(lambda d, fit=fit: linear(fit(d)), name_tr)
            params = fit(name_tr)
            fn = linear(params)
        rp = per_domain(name_te, fn)
        macro = {m: float(np.mean([cv[k][m] for k in cv])) for m in ("hit@1", "hit@5")}
        results[name] = {"cv": cv, "cv_macro": macro, "report": rp, "params": params}
        print(f"{name:75s} cv macro {macro['hit@1']:.3f}/{macro['hit@5']:.3f}  "
              + "  ".join(f"{k} {cv[k]['hit@1']:.3f}->{rp[k]['hit@1']:.3f}" for k in cv), flush=True)
    # Trained on SQuAD alone, a ranker gives weight 0 to every feature SQuAD never exercises
    # (the passage's own question, speakers): those candidates are shown, not chosen. The 2026-11-27
    # run tied one of them with the best mixed-domain ranker (0.650 both) and picked it by a hair,
    # which switched off the interview's question feature; this rule was added after seeing that.
    eligible = [k for k in results if k not in squad_only and k not in plain]
    best = max(eligible, key=lambda k: (results[k]["cv_macro"]["hit@1"], results[k]["cv_macro"]["hit@5"]))
    params, regularization = results[best]["params"], None
    if best in pairwise:
        # The variant is chosen with the default penalty, then its penalty by its own cross-validation.
        w, sampled = pairwise[best]
        C, table = choose_regularization(tr, {k: v for k, v in te.items() if k != TUNE_DOCS}, w, sampled)
        regularization = {"chosen": C, "table": {str(k): v for k, v in table.items()}}
        params = fit_pairwise(tr, w, random.Random(0) if sampled else None, C=C)
        best = f"{best}, L2 penalty C={C:g} (the table below: C=1)"
    if params is not None:
        save("ranker", RANK_FEATURES, params, "linear", method=best, trained_on=(
            "tune parts: " + ", ".join(f"{k} {len(v)} questions" for k, v in tr.items())
            + " (SQuAD v1.1 tune articles, QMSum meetings 13-35, fixture tune documents and bench/data/tune_docs)"))
    elif (MODELS / "ranker.json").exists():
        (MODELS / "ranker.json").unlink()
    best_sentence, sentence_cv = tune_sentence(tr)
    print("sentence model, other domains' weight -> cross-validated accuracy:", sentence_cv,
          "chosen", best_sentence, flush=True)
    return best, {k: {"cv": v["cv"], "cv_macro": v["cv_macro"], "report": v["report"]} for k, v in results.items()}, \
        {"chosen": best_sentence, "cv sentence accuracy": {str(k): v for k, v in sentence_cv.items()}}, regularization


def fit_sentence(data: dict[str, list[dict]], domain_weight: float):
    """Logistic regression on the sentences of right passages, labelled by holding a gold answer."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    w = _weights({k: [x for d in v for x in d["sx"]] for k, v in data.items()}, domain_weight)
    parts = [(x, y, w[k]) for k, v in data.items() for d in v for x, y in zip(d["sx"], d["sy"])]
    sx = np.concatenate([x for x, _, _ in parts]); sy = np.concatenate([y for _, y, _ in parts])
    sw = np.concatenate([np.full(len(y), wt) for _, y, wt in parts])
    keep = sw > 0
    sc = StandardScaler().fit(sx[keep])
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(sc.transform(sx[keep]), sy[keep], sample_weight=sw[keep] / sw[keep].mean())
    return sc.mean_, sc.scale_, lr.coef_[0], float(lr.intercept_[0])


def sentence_accuracy(data: list[dict], params) -> float:
    """Share of right passages whose highest-scored sentence holds a gold answer."""
    fn = linear(params)
    got = [bool(y[int(np.argmax(fn(x)))]) for d in data for x, y in zip(d["sx"], d["sy"])]
    return sum(got) / max(1, len(got))


def tune_sentence(tr: dict[str, list[dict]]) -> tuple[float, dict]:
    """Fit the sentence model on the tune parts, the other domains' weight chosen like the ranker's."""
    from qa.confidence import SENTENCE_FEATURES

    data = {k: v for k, v in tr.items() if any(d["sx"] for d in v)}  # QMSum has no gold strings
    folds = _folds(data)
    cv = {}
    scored = [k for k in data if k != TUNE_DOCS]  # tune-only documents are fitted on, never scored
    for w in DOMAIN_WEIGHTS:
        acc = {k: 0.0 for k in scored}
        for i in (0, 1):
            params = fit_sentence({k: [d for d in v if d["group"] not in folds[k][i]] for k, v in data.items()}, w)
            for k in scored:
                v = data[k]
                held = [d for d in v if d["group"] in folds[k][i]]
                n = sum(len(d["sx"]) for d in held)
                acc[k] += sentence_accuracy(held, params) * n / max(1, sum(len(d["sx"]) for d in v))
        cv[w] = {**{k: round(a, 4) for k, a in acc.items()}, "mean": round(float(np.mean(list(acc.values()))), 4)}
    best = max(DOMAIN_WEIGHTS, key=lambda w: (cv[w]["mean"], -w))
    params = fit_sentence(data, best)
    save("sentence", SENTENCE_FEATURES, params, "logistic", trained_on=(
        "sentences of right passages: " + ", ".join(f"{k} tune part ({sum(len(d['sy']) for d in v)} passages)"
                                                     for k, v in data.items())
        + f"; other domains {best:g} of SQuAD's weight (cross-validated sentence accuracy)"))
    return best, cv


def confidence_rows(retriever, qs: list[sets.Q]) -> tuple[np.ndarray, np.ndarray, list[sets.Q]]:
    """The top hit's confidence features and label ("it answers") of each question."""
    from qa.search import clean_question

    vecs = retriever.encode([q.text for q in qs])  # also keeps their token vectors for _ranked
    gen = retriever._gen
    xs, ys, kept = [], [], []
    for q, v in zip(qs, vecs):
        qt, cands = retriever._ranked(gen, clean_question(q.text), v.reshape(1, -1), 2)
        if not cands:
            continue
        kept.append(q)
        xs.append(retriever._confidence_x(gen, qt, cands, 0))
        c = cands[0].record
        ys.append(bool(q.answerable and is_right(q, c.source, c.start, c.end, c.text)))
    return np.array(xs), np.array(ys), kept


# Weight of the other domains' questions in the confidence fit, as a share of SQuAD 2.0's:
# chosen by cross-validated log loss over all calibration questions (see tune_confidence).
CONF_DOMAIN_WEIGHTS = (0.0, 0.1, 0.25, 0.5)


CONF_REGULARIZATION = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # the confidence model's L2 C; 0.3 was fixed before


def fit_confidence(rows: dict[str, tuple], domain_weight: float, C: float = 0.3):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n = len(rows["squad2"][1])
    others = [k for k in rows if k != "squad2"]
    x = np.vstack([rows[k][0] for k in rows])
    y = np.concatenate([rows[k][1] for k in rows])
    w = np.concatenate([np.ones(len(rows[k][1])) if k == "squad2" else
                        np.full(len(rows[k][1]), domain_weight * n / len(rows[k][1]) / len(others)) for k in rows])
    keep = w > 0
    sc = StandardScaler().fit(x[keep])
    lr = LogisticRegression(C=C, max_iter=5000).fit(sc.transform(x[keep]), y[keep], sample_weight=w[keep] / w[keep].mean())
    return sc.mean_, sc.scale_, lr.coef_[0], float(lr.intercept_[0])


def tune_confidence(quick: bool, rnd: random.Random) -> tuple[dict, dict]:
    """Fit the confidence model on the SQuAD 2.0 calibration articles (with off-topic questions)
    and, with a weight chosen by cross-validation, the ranker's tune parts of the fixtures and
    QMSum; choose the tier thresholds on the SQuAD 2.0 calibration articles."""
    from sklearn.metrics import log_loss

    from qa import Retriever
    from qa.confidence import CONF_FEATURES, load_model

    load_model.cache_clear()
    s2, cal, _rep = sets.squad_v2()
    retriever = Retriever.load(sets.index_for(s2))
    cal_q = [q for q in s2.questions if q.group in cal]
    s1, tune, _ = sets.squad_v1()
    off = sets.interview()[1]
    foreign = random.Random(1).sample([q for q in s1.questions if q.group in tune], 300)
    # Off-topic questions get a group each, so that cross-validation splits them too.
    qs = cal_q + [sets.Q(q.text, (), (), False, f"off-topic-{i % 2}") for i, q in enumerate(off + foreign)]
    x, y, kept = confidence_rows(retriever, qs)
    rows: dict[str, tuple] = {"squad2": (x, y, [q.group for q in kept])}
    # SQuAD 2.0 alone teaches its own low base rate: the interview's top passages were right far
    # more often than their confidence said (ECE 0.40). The other domains' tune parts, the ones
    # the ranker learned from, teach what transcripts and other documents look like.
    qm = sets.qmsum(None)
    qtune, _ = sets.qmsum_split(qm)
    other = {"qmsum": (qm, [q for q in qm.questions if q.group in qtune])}
    fx = sets.fixtures()
    if fx is not None:
        ftune, _ = sets.fixture_split(fx)
        other["fixtures"] = (fx, [q for q in fx.questions if q.group in ftune])
    for name, (qset, questions) in other.items():
        ox, oy, ok = confidence_rows(Retriever.load(sets.index_for(qset)), questions)
        rows[name] = (ox, oy, [q.group for q in ok])
    # The weight: lowest held-out log loss over all calibration questions, each counted once
    # (2 folds by article, meeting or document). A mean over domains instead would let the 58
    # fixture questions weigh as much as the 1,500 SQuAD 2.0 ones; it chose the largest weight
    # tried, and SQuAD 2.0's calibration error on the report articles rose past the 0.05 bar.
    def held_out(w: float, C: float) -> dict[str, float]:
        losses = {k: 0.0 for k in rows}
        for i in (0, 1):
            fold = {k: np.isin(g, sorted(set(g))[i::2]) for k, (_, _, g) in rows.items()}
            params = fit_confidence({k: (v[0][~fold[k]], v[1][~fold[k]]) for k, v in rows.items()}, w, C)
            for k, (vx, vy, _) in rows.items():
                pk = 1 / (1 + np.exp(-linear(params)(vx[fold[k]])))
                losses[k] += log_loss(vy[fold[k]], pk, labels=[False, True]) * fold[k].sum() / len(vy)
        return {**losses, "pooled": float(sum(losses[k] * len(rows[k][1]) for k in rows)
                                          / sum(len(v[1]) for v in rows.values()))}

    cv = {}
    for w in CONF_DOMAIN_WEIGHTS:
        cv[w] = held_out(w, 0.3)
        print(f"confidence, other domains {w:g}:", {k: round(v, 4) for k, v in cv[w].items()}, flush=True)
    weight = min(CONF_DOMAIN_WEIGHTS, key=lambda w: cv[w]["pooled"])
    # Then the L2 penalty at that weight, by the same held-out log loss (ties: the stronger penalty).
    cv_c = {C: held_out(weight, C) for C in CONF_REGULARIZATION}
    print("confidence, L2 C:", {C: round(v["pooled"], 4) for C, v in cv_c.items()}, flush=True)
    C = min(CONF_REGULARIZATION, key=lambda c: (round(cv_c[c]["pooled"], 6), c))
    params = fit_confidence({k: v[:2] for k, v in rows.items()}, weight, C)
    lr_coef = params[2]
    # The tiers are chosen on the SQuAD 2.0 calibration rows alone.
    p = linear(params)(x); p = 1 / (1 + np.exp(-p))
    answerable = np.array([q.answerable for q in kept])
    groups = np.array([q.group for q in kept])
    # "not in the documents" below this: the highest threshold at which EVERY calibration
    # article keeps 90% of its answerable questions answered (the bar). A pooled quantile
    # held 92% on the calibration articles and only 88% on unseen ones: articles differ
    # more than questions do, so the guarantee is made per article.
    closest = float(min(np.quantile(p[answerable & (groups == g)], 1 - ANSWERED_SHARE) for g in sorted(cal)))
    # "answer" from here: the lowest threshold above which the top passage is right in at
    # least 75% of calibration questions (with 50 or more of them above it, so the
    # precision is measured, not luck).
    order = np.argsort(-p)
    prec = np.cumsum(y[order]) / np.arange(1, len(y) + 1)
    ok = [i for i in np.flatnonzero(prec >= ANSWER_PRECISION) if i >= 49]
    answer_t = float(p[order][ok[-1]]) if ok else float(p[order][49])
    answer_t = max(answer_t, closest)
    sel = p >= closest
    tiers = {
        "answer": {"threshold": answer_t, "precision": float(y[p >= answer_t].mean()) if (p >= answer_t).any() else 1.0,
                   "why": (f"lowest threshold where the top passage answers in at least {ANSWER_PRECISION:.0%} of the "
                           "calibration questions above it" if ok else
                           f"{ANSWER_PRECISION:.0%} is reached by fewer than 50 calibration questions: the "
                           "threshold that keeps the 50 most confident")},
        "closest": {"threshold": closest, "precision": float(y[sel].mean()),
                    "why": (f"the highest threshold at which every calibration article keeps "
                            f"{ANSWERED_SHARE:.0%} of its answerable questions answered; "
                            f"{float((p[answerable] >= closest).mean()):.1%} of them in all")},
    }
    save("confidence", CONF_FEATURES, params, "logistic", tiers=tiers, trained_on=(
        f"SQuAD 2.0 half A, calibration articles {sorted(cal)} ({len(cal_q)} questions), "
        f"{len(off)} off-topic and {len(foreign)} SQuAD v1.1 tune questions asked of that corpus; "
        + ", ".join(f"{k} tune part ({len(rows[k][1])} questions)" for k in other)
        + f", together {weight:g} of the SQuAD 2.0 rows' weight, L2 C={C:g} (both by cross-validated log loss)"),
        domain_weight_cv={str(k): v for k, v in cv.items()},
        regularization_cv={str(k): v["pooled"] for k, v in cv_c.items()})
    load_model.cache_clear()
    print("confidence coef:", dict(zip(CONF_FEATURES, np.round(lr_coef, 2))))
    print("tiers:", tiers, flush=True)
    return tiers, {"chosen": weight, "cv log loss": {str(k): v for k, v in cv.items()},
                   "C": C, "cv log loss by C": {str(k): v for k, v in cv_c.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="samples of the SQuAD sets, for iterating")
    ap.add_argument("--no-report", action="store_true", help="fit only")
    ap.add_argument("--qmsum-meetings", type=int, default=12,
                    help="report QMSum on the first N meetings (0: all 35); the shared 2-core machine")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    rnd = random.Random(0)
    from qa.confidence import load_model

    best, alternatives, sentence, regularization = tune_ranker(args.quick, rnd)
    load_model.cache_clear()
    tiers, conf_weight = tune_confidence(args.quick, rnd)
    out = {"method": f"Ranker: {best}.", "alternatives": alternatives, "tiers": tiers,
           "confidence_domain_weight": conf_weight, "sentence_domain_weight": sentence,
           "ranker_regularization": regularization}
    if not args.no_report:
        import quality

        out.update(quality.report(args.quick, args.qmsum_meetings or None))
        print(quality.markdown(out))
        if not args.quick:
            quality.write_results(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
