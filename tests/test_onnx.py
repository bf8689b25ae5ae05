"""The ONNX Runtime encoder against sentence-transformers on torch, and its failure paths.

Real parts throughout: the bundled model, its real export, real indexes. Faults
are injected only where a test says so (a damaged file, an export that fails).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import onnx_model
from qa.embedding import Embedder, resolve_model
from qa.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
INTERVIEW = ROOT / "corpus" / "optics_valley_interview.txt"

QUESTION = "What is the total revenue of the park?"


@pytest.fixture(scope="session")
def bundled_export() -> Path:
    """The bundled model's export in the user cache (made here when `make install` has not)."""
    return onnx_model.load(resolve_model(None)).folder


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。])\s+|\n+", text) if s.strip()]


def varied_texts() -> list[str]:
    """Over 1,000 texts: questions, sentences and paragraphs of three sources, and edge cases."""
    squad = json.loads((DATA / "squad-sample.json").read_text(encoding="utf-8"))
    paragraphs = [p for a in squad["data"] for p in a["paragraphs"]]
    texts = [json.loads(x)["question"] for x in (DATA / "dev_questions.jsonl").read_text().splitlines() if x.strip()]
    texts += _sentences(INTERVIEW.read_text(encoding="utf-8"))
    texts += [q["question"] for p in paragraphs for q in p["qas"]]
    texts += [s for p in paragraphs for s in _sentences(p["context"])]
    texts += [a["text"] for p in paragraphs for q in p["qas"] for a in q["answers"]]  # names, dates, numbers
    texts += [c.strip() for p in paragraphs for c in p["context"].split(",")[1::3] if len(c.strip()) > 15]
    texts += [p["context"] for p in paragraphs[:4]]  # whole paragraphs
    long_text = " ".join(p["context"] for p in paragraphs[:4])
    texts += [
        "", " ", "\n\t ", ".", "?", "a", "I", "0", "-1", "3.14159", "1,200 enterprises", "12:30", "2008-11-04",
        "北京是中国的首都。", "光谷生物城的总收入超过了1200亿元。", "東京タワー", "서울특별시", "Ünïcödé façade, naïve café",
        "Привет, мир", "مرحبا بالعالم", "🙂🚀🎉", "emoji in text 🙂 works?", "tab\tand\nnewline", "x" * 3000,
        "word " * 600, long_text, long_text[::-1], "ａｂｃ full-width", "\u200bzero\u200bwidth", "<b>html</b> &amp;",
        "C'est déjà l'été.", "¿Qué? ¡Sí!", "e = mc²", "a\u0301 combining", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    ]
    return list(dict.fromkeys(texts))


def test_onnx_matches_sentence_transformers_on_varied_texts(bundled_export):
    texts = varied_texts()
    assert len(texts) >= 1000
    enc = onnx_model.OnnxEncoder(bundled_export)
    assert any(len(enc._tokenizer.encode(t).ids) == enc.max_seq_length for t in texts)  # truncation is exercised
    got = enc.encode(texts)
    want = Embedder(backend="torch").model.encode(texts, batch_size=64, normalize_embeddings=True,
                                                  convert_to_numpy=True, show_progress_bar=False)
    cos = (got * want).sum(axis=1)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cos.min() >= 0.9999, f"lowest cosine {cos.min():.6f} for {texts[int(cos.argmin())][:80]!r}"


def test_export_records_the_sentence_transformers_pipeline(bundled_export):
    meta = json.loads((bundled_export / "meta.json").read_text())
    model = Path(resolve_model(None))
    assert meta["pooling"] == "mean"
    assert meta["max_seq_length"] == json.loads((model / "sentence_bert_config.json").read_text())["max_seq_length"]
    assert meta["dimension"] == 384
    assert meta["files"]["model.onnx"] == onnx_model._sha256(bundled_export / "model.onnx")
    # The token table lives outside the graph, and is read row by row rather than held in memory.
    assert meta["layout"] == "split" and meta["graph_inputs"][0] == "inputs_embeds"
    table = np.load(bundled_export / "embeddings.npy", mmap_mode="r")
    assert table.shape == (30522, 384)
    enc = onnx_model.OnnxEncoder(bundled_export)
    ids = np.array([[101, 7592, 2088, 102], [101, 30521, 0, 0]])
    assert np.array_equal(enc._table.take(ids), np.asarray(table)[ids])


def test_same_top5_through_torch_and_onnx(tmp_path, monkeypatch, dev_questions):
    from qa import Retriever, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(INTERVIEW, corpus / INTERVIEW.name)
    monkeypatch.setenv("QA_BACKEND", "onnx")
    build_index(corpus, tmp_path / "index")
    on_onnx = Retriever.load(tmp_path / "index")
    monkeypatch.setenv("QA_BACKEND", "torch")
    on_torch = Retriever.load(tmp_path / "index")
    assert (on_onnx._embedder.backend, on_torch._embedder.backend) == ("onnx", "torch")
    for q in dev_questions:
        top = [[(h.source, h.start, h.end) for h in r.search(q["question"], k=5)] for r in (on_onnx, on_torch)]
        assert top[0] == top[1], q["question"]


NO_TORCH = """
import json, sys
from qa.cli import main
try:
    main(["ask", {question!r}, "--index", {index!r}], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
from qa.service import QAService
import qa.web
reply = QAService({corpus!r}, {index!r}).ask({question!r})
print(json.dumps({{"code": code, "found": reply.found,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in
                                   ("torch", "sentence_transformers", "transformers"))}}))
"""


def test_query_path_imports_neither_torch_nor_sentence_transformers(interview_index, bundled_export):
    corpus, index = interview_index
    code = NO_TORCH.format(question=QUESTION, index=str(index), corpus=str(corpus))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("QA_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "120 billion yuan" in out.stdout
    assert result == {"code": 0, "found": True, "loaded": []}
    assert "torch" not in out.stderr


def test_damaged_export_is_made_again_after_a_one_line_notice(tmp_path, monkeypatch, caplog, bundled_export):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    copy = tmp_path / "onnx" / bundled_export.name
    shutil.copytree(bundled_export, copy)
    with open(copy / "model.onnx", "r+b") as f:  # flip bytes in the middle of the weights
        f.seek(40_000_000)
        chunk = f.read(64)
        f.seek(40_000_000)
        f.write(bytes(b ^ 0xFF for b in chunk))
    with caplog.at_level(logging.WARNING):
        vec = Embedder(backend="onnx").encode_query_tokens(QUESTION)[0]
    notices = [r.getMessage() for r in caplog.records if "checksum" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0] and "exporting it again" in notices[0]
    meta = json.loads((copy / "meta.json").read_text())
    assert onnx_model._sha256(copy / "model.onnx") == meta["files"]["model.onnx"]
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name, copy.name + ".lock"]  # no temporary left
    want = Embedder(backend="torch").encode_query_tokens(QUESTION)[0]
    assert float((vec * want).sum()) >= 0.9999


def test_damaged_token_table_is_refused(tmp_path, bundled_export):
    copy = tmp_path / "export"
    shutil.copytree(bundled_export, copy)
    with open(copy / "embeddings.npy", "r+b") as f:
        f.seek(20_000_000)
        f.write(b"\xff" * 8)
    with pytest.raises(ModelError, match="embeddings.npy does not match its sha256"):
        onnx_model.OnnxEncoder(copy)
    with open(copy / "embeddings.npy", "r+b") as f:
        f.truncate(1_000_000)
    with pytest.raises(ModelError):
        onnx_model.OnnxEncoder(copy, verify=False)


def test_model_whose_split_export_fails_is_exported_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    real = onnx_model._export_layout

    def split_fails(torch, st, spec, auto_model, tokenizer, names, layout, tmp):  # injected fault
        if layout == "split":
            raise ModelError("injected: this model does not take inputs_embeds")
        return real(torch, st, spec, auto_model, tokenizer, names, layout, tmp)

    monkeypatch.setattr(onnx_model, "_export_layout", split_fails)
    enc = onnx_model.load(resolve_model(None))
    assert enc.meta["layout"] == "whole" and enc._table is None
    assert not (enc.folder / "embeddings.npy").exists()
    texts = [QUESTION, "How many enterprises are in the park?", "北京 🙂 3.14"]
    want = Embedder(backend="torch").model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                                  show_progress_bar=False)
    assert float((enc.encode(texts) * want).sum(axis=1).min()) >= 0.9999


def test_export_failure_falls_back_to_torch_with_a_notice(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))  # nothing exported here yet

    def broken_export(spec, dest):  # injected fault: the export cannot be made
        raise ModelError("injected: the ONNX export failed")

    monkeypatch.setattr(onnx_model, "export", broken_export)
    with caplog.at_level(logging.WARNING):
        e = Embedder()
        vec = e.encode_query_tokens(QUESTION)[0]
    assert e.backend == "torch"
    assert any("injected" in r.getMessage() and "runs on torch instead" in r.getMessage() for r in caplog.records)
    assert vec.shape == (1, 384)
    with pytest.raises(ModelError, match="injected"):
        Embedder(backend="onnx").encode_query_tokens(QUESTION)[0]


def test_model_that_onnx_cannot_pool_runs_on_torch(tmp_path, caplog):
    # A real sentence-transformers model with a pooling mode the ONNX path does not compute.
    src = Path(resolve_model(None))
    model = tmp_path / "weighted-minilm"
    model.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (model / f.name).symlink_to(f)
    (model / "1_Pooling").mkdir()
    cfg = json.loads((src / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_weightedmean_tokens=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    with caplog.at_level(logging.WARNING):
        e = Embedder(str(model))
        vec = e.encode([QUESTION, "another text"])
    assert e.backend == "torch" and vec.shape == (2, 384)
    assert any("weightedmean" in r.getMessage() for r in caplog.records)


def test_missing_model_is_a_clear_model_error(caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(ModelError) as err:
        Embedder("/no/such/model").encode_query_tokens(QUESTION)[0]
    assert "\n" not in str(err.value) and "no such local path" in str(err.value)


def test_int8_option_makes_a_checked_quantized_model(bundled_export):
    enc = onnx_model.load(resolve_model(None), int8=True)
    meta = json.loads((enc.folder / "meta.json").read_text())
    assert onnx_model._sha256(enc.folder / "model.int8.onnx") == meta["files"]["model.int8.onnx"]
    fp32 = onnx_model.OnnxEncoder(bundled_export)
    texts = [QUESTION, "How many enterprises are in the park?", "The park was built in 2008."]
    cos = (enc.encode(texts) * fp32.encode(texts)).sum(axis=1)
    assert cos.min() > 0.95  # close, but not the same model: quality is measured in bench/onnx.py


def test_unwritable_cache_falls_back_to_torch_without_a_traceback(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("QA_CACHE_DIR", str(blocker / "qa"))
    with caplog.at_level(logging.WARNING):
        e = Embedder()
        vec = e.encode_query_tokens(QUESTION)[0]
    assert e.backend == "torch" and vec.shape == (1, 384)
    notices = [r.getMessage() for r in caplog.records if "runs on torch instead" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0] and "cannot export" in notices[0]


def test_token_vectors_agree_between_onnx_and_torch():
    text = "The park holds more than 1,200 enterprises, and its revenue reached 120 billion yuan."
    _, onnx_toks = Embedder(backend="onnx").encode_tokens([text], 1)
    _, torch_toks = Embedder(backend="torch").encode_tokens([text], 1)
    a, b = onnx_toks[0], torch_toks[0]
    assert a.tokens == b.tokens and a.tokens[0] == "the" and "[CLS]" not in a.tokens
    cos = (a.vectors.astype(np.float32) * b.vectors.astype(np.float32)).sum(axis=1)
    assert cos.min() > 0.999
