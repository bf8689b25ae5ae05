"""The embedding model on ONNX Runtime: exported once with torch, then run without it.

Importing torch and sentence-transformers costs about five seconds and most of
a gigabyte, while the model itself is a small BERT. So the transformer is
exported once to ONNX (``torch.onnx.export``) and queries run it on
``onnxruntime`` with the ``tokenizers`` library; pooling and normalization are
done here in numpy, the way sentence-transformers does them.

The token embedding table (30,522 × 384 floats, half of MiniLM's weights) is
kept out of the graph: it is saved as ``embeddings.npy``, its rows are read from disk
as tokens need them, and the graph takes ``inputs_embeds``. A query touches a few dozen rows of it, so
the server no longer holds 47 MB of weights it never reads. The lookup is the
same gather the model does itself, so the vectors do not change; models whose
forward pass does not accept ``inputs_embeds`` that way are exported whole.

The export lives in a per-user cache, ``$QA_CACHE_DIR`` or
``$XDG_CACHE_HOME/qa`` (``~/.cache/qa``), under ``onnx/<key>/``. The key hashes
the model's path, the content of its configuration and tokenizer files, the
size and modification time of its weight files, and this exporter's version,
so a changed model gets a new export. ``meta.json`` beside the model holds its
sha256, checked on every load: a damaged file is exported again.

    python -m qa.onnx_model [--model NAME_OR_PATH] [--int8]   # export now (``make install`` does)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import ModelError

log = logging.getLogger(__name__)

# Bump when the exported files or their meaning change: old exports are then ignored.
EXPORT_VERSION = 2
OPSET = 17
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
EMBEDDINGS_FILE = "embeddings.npy"
META_FILE = "meta.json"
# Pooling modes computed here; others (weighted mean, last token, several at once) stay on torch.
POOLING_MODES = {"mean", "cls", "max", "mean_sqrt_len_tokens"}
_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
# Exports whose vectors stray further than this from sentence-transformers are refused.
MIN_EXPORT_COSINE = 0.9999


@dataclass(frozen=True)
class ModelSpec:
    """What a sentence-transformers model folder says about its pipeline.

    Attributes:
        path: The model folder.
        pooling: One of :data:`POOLING_MODES`.
        max_seq_length: Tokens per text, special tokens included; longer texts are cut.
        key: Names this model's export in the cache.
    """

    path: Path
    pooling: str
    max_seq_length: int | None
    key: str


def cache_root() -> Path:
    """The per-user cache folder: ``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc.__class__.__name__}") from exc


def read_spec(model_path: str | os.PathLike[str]) -> ModelSpec:
    """Read a model folder's modules.json, pooling and length settings, without torch.

    Args:
        model_path: A local sentence-transformers model folder.

    Returns:
        The spec, with the cache key of its export.

    Raises:
        ModelError: The folder is not a model this module can run (then torch runs it).
    """
    path = Path(model_path)
    if not path.is_dir():
        raise ModelError(f"model {str(model_path)!r} is not a local folder")
    modules = _read_json(path / "modules.json") if (path / "modules.json").exists() else None
    if not modules:
        raise ModelError(f"model {path.name!r} has no modules.json")
    types = [m.get("type") for m in modules]
    if types[:2] != [_TRANSFORMER, _POOLING] or any(t != _NORMALIZE for t in types[2:]):
        raise ModelError(f"model {path.name!r} has modules {types[1:]} beyond transformer, pooling and normalize")
    if modules[0].get("path"):
        raise ModelError(f"model {path.name!r} keeps its transformer in a subfolder")
    pooling_cfg = _read_json(path / modules[1]["path"] / "config.json")
    modes = pooling_cfg.get("pooling_mode")
    if modes is None:
        modes = [mode for key, mode in _POOLING_KEYS.items() if pooling_cfg.get(key)] or ["mean"]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ModelError(f"model {path.name!r} pools with {modes}")
    sbert = _read_json(path / "sentence_bert_config.json") if (path / "sentence_bert_config.json").exists() else {}
    if sbert.get("do_lower_case"):
        raise ModelError(f"model {path.name!r} lowercases its input outside the tokenizer")
    if not (path / TOKENIZER_FILE).exists():
        raise ModelError(f"model {path.name!r} has no tokenizer.json (a fast tokenizer)")

    h = hashlib.sha256(json.dumps({"path": str(path.resolve()), "export": EXPORT_VERSION, "opset": OPSET}).encode())
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts):
        rel = f.relative_to(path).as_posix()
        st = f.stat()
        if f.suffix in {".json", ".txt", ".model"} and st.st_size < 16 << 20:
            h.update(f"{rel}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
        else:  # weights: hashing 90 MB on every start would cost more than the rest of a query
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    max_len = sbert.get("max_seq_length")
    return ModelSpec(path=path, pooling=modes[0], max_seq_length=int(max_len) if max_len else None,
                     key=h.hexdigest()[:24])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------ export (needs torch)


def export(spec: ModelSpec, dest: Path) -> dict:
    """Export ``spec``'s transformer to ``dest/model.onnx`` with its tokenizer and meta.json.

    Writes into a temporary folder beside ``dest`` and renames it into place,
    so that a reader never sees half an export. Checks the export against
    sentence-transformers on a few texts before keeping it.

    Args:
        spec: The model, from :func:`read_spec`.
        dest: The folder to create (it must not exist).

    Returns:
        The meta data written to ``meta.json``.

    Raises:
        ModelError: The model cannot be exported or its export disagrees with torch.
    """
    t0 = time.perf_counter()
    try:
        import torch
    except ImportError as exc:
        raise ModelError(f"exporting to ONNX needs torch ({exc})") from exc
    from .embedding import _load

    st = _load(str(spec.path))  # the very object that the torch fallback would use
    pooling = st[1]
    mode = getattr(pooling, "pooling_mode", None)
    if len(st) > 3 or (isinstance(mode, str) and mode != spec.pooling):
        raise ModelError(f"model {spec.path.name!r} does not load as its modules.json says")
    tokenizer = st.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model {spec.path.name!r} has no fast tokenizer")
    auto_model = st[0].auto_model.eval()
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ModelError(f"model {spec.path.name!r} takes inputs {tokenizer.model_input_names}")

    table = auto_model.get_input_embeddings() if hasattr(auto_model, "get_input_embeddings") else None
    layouts = ["split", "whole"] if isinstance(table, torch.nn.Embedding) else ["whole"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for layout in layouts:
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir()
        try:
            meta = _export_layout(torch, st, spec, auto_model, tokenizer, names, layout, tmp)
            _install(tmp, dest)
            log.info("exported %s to ONNX (%s) in %.1f s", spec.path.name, layout, time.perf_counter() - t0)
            return meta
        except Exception as exc:  # the split layout may not suit a model: the whole graph then
            last = exc
            log.debug("ONNX export of %s as %s failed: %s", spec.path.name, layout, exc)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    assert last is not None
    raise last


def _export_layout(torch: Any, st: Any, spec: ModelSpec, auto_model: Any, tokenizer: Any, names: list[str],
                   layout: str, tmp: Path) -> dict:
    """Export one layout into ``tmp`` and check it against sentence-transformers.

    ``whole`` takes token ids; ``split`` takes ``inputs_embeds`` and writes the
    token embedding table beside the graph, read row by row by the encoder.
    """
    graph_inputs = (["inputs_embeds", *names[1:]] if layout == "split" else names)

    class Wrapper(torch.nn.Module):
        # transformers 5 wants keyword arguments, torch.onnx.export passes positional ones.
        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, *args: Any) -> Any:
            return self.model(**dict(zip(graph_inputs, args))).last_hidden_state

    sample = tokenizer(["a short text", "and a somewhat longer one, to vary the length"],
                       padding=True, return_tensors="pt")
    args = [sample[n] for n in names]
    files = {}
    with torch.no_grad():
        if layout == "split":
            table = auto_model.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float32)
            np.save(tmp / EMBEDDINGS_FILE, table)
            files[EMBEDDINGS_FILE] = _sha256(tmp / EMBEDDINGS_FILE)
            args[0] = auto_model.get_input_embeddings()(args[0])
    dynamic = {n: {0: "batch", 1: "sequence"} for n in graph_inputs + ["token_embeddings"]}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow: shapes are dynamic here
        torch.onnx.export(Wrapper(), tuple(args), str(tmp / MODEL_FILE), dynamo=False,
                          input_names=graph_inputs, output_names=["token_embeddings"], dynamic_axes=dynamic,
                          opset_version=OPSET)
    tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
    import importlib.metadata as md

    files.update({MODEL_FILE: _sha256(tmp / MODEL_FILE), TOKENIZER_FILE: _sha256(tmp / TOKENIZER_FILE)})
    meta = {
        "export_version": EXPORT_VERSION, "model": str(spec.path), "key": spec.key, "layout": layout,
        "inputs": names, "graph_inputs": graph_inputs, "pooling": spec.pooling,
        "max_seq_length": int(st.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0), "pad_token": tokenizer.pad_token or "[PAD]",
        "dimension": int(st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension")
                         else st.get_sentence_embedding_dimension()),
        "files": files,
        "versions": {p: md.version(p) for p in ("torch", "transformers", "sentence-transformers", "onnxruntime")},
    }
    _write_json_atomic(tmp / META_FILE, meta)
    probe = ["What is the total revenue of the park?", "x " * 400, "北京 🙂 3.14", ""]
    got = OnnxEncoder(tmp).encode(probe)
    want = st.encode(probe, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    cos = float((got * want).sum(axis=1).min())
    if not cos >= MIN_EXPORT_COSINE:
        raise ModelError(f"the ONNX export of {spec.path.name!r} disagrees with torch (cosine {cos:.5f})")
    return meta


def _install(tmp: Path, dest: Path) -> None:
    """Move a finished export into place, replacing a damaged one."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
        os.replace(dest, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, dest)


def quantize(folder: Path) -> None:
    """Write ``model.int8.onnx`` (dynamic int8 quantization of the weights) beside ``model.onnx``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    meta = _read_json(folder / META_FILE)
    tmp = folder / f".{INT8_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        quantize_dynamic(str(folder / MODEL_FILE), str(tmp), weight_type=QuantType.QInt8)
        digest = _sha256(tmp)
        os.replace(tmp, folder / INT8_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    meta["files"][INT8_FILE] = digest
    _write_json_atomic(folder / META_FILE, meta)


# ------------------------------------------------------------------ running (no torch)


@dataclass(frozen=True)
class TokenVectors:
    """The contextual vectors of one text's tokens, special tokens left out.

    Attributes:
        vectors: ``(tokens, dimension)`` float16, each row L2-normalized.
        tokens: The tokenizer's token strings, one per row (word pieces such as ``"##ing"``).
    """

    vectors: np.ndarray
    tokens: tuple[str, ...]


def token_vectors(hidden: np.ndarray, tokens: Sequence[str], special: Sequence[int]) -> TokenVectors:
    """Normalized float16 token vectors of one text from the transformer's output."""
    keep = [i for i, s in enumerate(special) if not s]
    v = np.asarray(hidden, dtype=np.float32)[keep]
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return TokenVectors(v.astype(np.float16), tuple(tokens[i] for i in keep))


class OnnxEncoder:
    """Runs an exported model: tokenize, transformer on onnxruntime, pool, normalize.

    Args:
        folder: An export folder (``model.onnx``, ``tokenizer.json``, ``meta.json``).
        int8: Run ``model.int8.onnx`` instead of the float32 model.
        verify: Check the files against the sha256 sums in ``meta.json``.

    Raises:
        ModelError: A file is missing, damaged or does not match its checksum.
    """

    def __init__(self, folder: Path, *, int8: bool = False, verify: bool = True) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        meta = _read_json(self.folder / META_FILE)
        model_file = INT8_FILE if int8 else MODEL_FILE
        path = self.folder / model_file
        # sha256 costs about 0.1 s per start for 90 MB: worth it, a damaged model gives wrong answers silently.
        try:
            if meta.get("export_version") != EXPORT_VERSION:
                raise ModelError(f"the ONNX export in {self.folder} is from another version of qa")
            names = [model_file, TOKENIZER_FILE] + ([EMBEDDINGS_FILE] if meta.get("layout") == "split" else [])
            for name, digest in ((n, meta["files"][n]) for n in names):
                if verify and _sha256(self.folder / name) != digest:
                    raise ModelError(f"{self.folder / name} does not match its sha256 checksum")
        except (OSError, KeyError) as exc:
            raise ModelError(f"the ONNX export in {self.folder} is incomplete ({model_file})") from exc
        self.meta = meta
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        self._pooling = meta["pooling"]
        self._inputs = list(meta["inputs"])
        self._graph_inputs = list(meta.get("graph_inputs", self._inputs))
        self._pad_id = int(meta["pad_id"])
        try:
            self._table = _RowFile(self.folder / EMBEDDINGS_FILE) if meta.get("layout") == "split" else None
            tok = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
            options = ort.SessionOptions()
            options.log_severity_level = 3  # warnings about unused initializers are noise to users
            # Idle worker threads must not spin: the server shares its cores with builds and other processes.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # From the path, not from bytes: onnxruntime then holds one copy of the weights, not two.
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime and tokenizers raise their own plain exception types
            raise ModelError(f"cannot load the ONNX export in {self.folder}: {exc.__class__.__name__}") from exc
        _release_freed_memory()
        # Truncate as sentence-transformers does (max_seq_length, special tokens included);
        # padding is done per batch below.
        tok.no_padding()
        tok.enable_truncation(self.max_seq_length)
        self._tokenizer = tok

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Encode texts into an ``(n, dimension)`` float32 array of unit vectors, in input order.

        Args:
            texts: The texts.
            batch_size: Texts per forward pass; batches are made of texts of similar length.

        Returns:
            The L2-normalized embeddings.
        """
        return self.encode_tokens(texts, 0, batch_size=batch_size)[0]

    def encode_tokens(self, texts: Sequence[str], with_tokens: int, *,
                      batch_size: int = 64) -> tuple[np.ndarray, list[TokenVectors]]:
        """Like :meth:`encode`, and also the token vectors of the first ``with_tokens`` texts.

        Returns:
            ``(embeddings, token vectors)``; see :class:`TokenVectors`.
        """
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        token_out: list[TokenVectors | None] = [None] * min(with_tokens, len(texts))
        if not len(texts):
            return out, []
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            batch = [encodings[j] for j in idx]
            width = max(len(e.ids) for e in batch)
            ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            for row, e in enumerate(batch):
                n = len(e.ids)
                ids[row, :n] = e.ids
                mask[row, :n] = 1
                types[row, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            if self._table is not None:
                feed["inputs_embeds"] = self._table.take(ids)
            tokens = self._session.run(None, {n: feed[n] for n in self._graph_inputs})[0]
            out[idx] = self._pool(tokens, mask)
            for row, j in enumerate(idx):
                if j < len(token_out):
                    e = encodings[j]
                    token_out[j] = token_vectors(tokens[row, : len(e.ids)], e.tokens, e.special_tokens_mask)
        # sentence-transformers' Normalize: x / max(||x||, 1e-12)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out, token_out  # type: ignore[return-value] - every slot was filled above

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of the tokens whose vectors :meth:`encode_tokens` keeps, per text."""
        return [[o for o, s in zip(e.offsets, e.special_tokens_mask) if not s]
                for e in self._tokenizer.encode_batch(list(texts))]

    def _pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        m = mask[..., None].astype(tokens.dtype)
        if self._pooling == "cls":
            return tokens[:, 0]
        if self._pooling == "max":
            return np.where(m > 0, tokens, -np.inf).max(axis=1)
        summed = (tokens * m).sum(axis=1)
        count = np.maximum(m.sum(axis=1), 1e-9)
        return summed / (count if self._pooling == "mean" else np.sqrt(count))


class _RowFile:
    """Rows of a 2-D float32 ``.npy`` table, read from disk on demand.

    Neither loaded nor memory-mapped: the kernel maps a cached file in large
    folios, so a memory map of the 47 MB table was 5 MB resident after one
    question and 33 MB after a hundred. A ``pread`` per distinct token costs
    microseconds and leaves the process's resident memory alone; the page
    cache still keeps hot rows in RAM, shared and reclaimable.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"{path.name} has .npy format {version}")
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if fortran or len(shape) != 2 or dtype != np.float32:
            raise ValueError(f"{path.name} is not a float32 table")
        if path.stat().st_size != self._offset + shape[0] * shape[1] * 4:
            raise ValueError(f"{path.name} is truncated")
        self.rows, self.dim = int(shape[0]), int(shape[1])
        self._row_bytes = self.dim * 4
        self._fd = os.open(path, os.O_RDONLY)

    def take(self, ids: np.ndarray) -> np.ndarray:
        """The rows of ``ids`` (any shape), as an array of shape ``ids.shape + (dim,)``."""
        uniq, inverse = np.unique(ids, return_inverse=True)
        if len(uniq) and not (0 <= uniq[0] and uniq[-1] < self.rows):
            raise ValueError(f"token id outside the table of {self.rows} rows")
        buf = b"".join(os.pread(self._fd, self._row_bytes, self._offset + int(i) * self._row_bytes) for i in uniq)
        return np.frombuffer(buf, dtype=np.float32).reshape(-1, self.dim)[inverse.reshape(ids.shape)]

    def __del__(self) -> None:
        try:
            os.close(self._fd)
        except (AttributeError, OSError):
            pass


def _release_freed_memory() -> None:
    """Hand the parser's freed buffers back to the OS: glibc keeps them otherwise (about 30 MB here)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _export_lock(dest: Path):
    from filelock import FileLock

    dest.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(dest.with_name(dest.name + ".lock")))


def load(model_path: str | os.PathLike[str], *, int8: bool = False) -> OnnxEncoder:
    """The ONNX encoder for a model folder, exporting it first when needed.

    A missing export is made (that imports torch once); a damaged one is made
    again after a one-line notice.

    Args:
        model_path: A local sentence-transformers model folder.
        int8: Use the int8-quantized model (made from the float32 export when missing).

    Raises:
        ModelError: The model cannot run on ONNX here; the caller falls back to torch.
    """
    spec = read_spec(model_path)
    dest = cache_root() / "onnx" / spec.key
    want = INT8_FILE if int8 else MODEL_FILE
    if (dest / want).exists():
        try:
            return OnnxEncoder(dest, int8=int8)
        except ModelError as exc:
            log.warning("%s; exporting it again", exc)
    try:
        with _export_lock(dest):
            try:  # another process may have finished the export while this one waited
                return OnnxEncoder(dest, int8=int8)
            except ModelError:
                pass
            try:
                OnnxEncoder(dest)
            except ModelError:
                export(spec, dest)
            if int8:
                quantize(dest)
    except ModelError:
        raise
    except Exception as exc:  # a read-only cache, an operator the exporter lacks...: all mean "use torch"
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise ModelError(f"cannot export {spec.path.name!r} to ONNX in {dest.parent}: "
                         f"{exc.__class__.__name__} {detail}".rstrip()) from exc
    return OnnxEncoder(dest, int8=int8)


def main(argv: list[str] | None = None) -> int:
    """``python -m qa.onnx_model``: export the model now, so that the first query need not."""
    import argparse

    from .embedding import default_model, resolve_model

    ap = argparse.ArgumentParser(prog="python -m qa.onnx_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model name or folder (default: $QA_MODEL or the bundled one)")
    ap.add_argument("--int8", action="store_true", help="also make the int8-quantized model")
    args = ap.parse_args(argv)
    logging.basicConfig(format="%(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    name = args.model or default_model()
    try:
        t = time.perf_counter()
        enc = load(resolve_model(name), int8=args.int8)
    except ModelError as exc:
        print(f"error: {exc}; queries with this model will run on torch", file=sys.stderr)
        return 1
    print(f"ONNX model for {name!r} ready in {enc.folder} ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
