"""Question answering over a folder of documents: hybrid FAISS + BM25 retrieval."""

from __future__ import annotations

__version__ = "0.1.0"

from .chunking import Passage, chunk_text  # noqa: E402
from .errors import (  # noqa: E402
    BadQuestion,
    BuildInProgress,
    CorpusError,
    DocumentExists,
    DocumentNotFound,
    DocumentRejected,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    IndexWriteError,
    ModelError,
    QAError,
)
from .indexing import BuildReport, build_index, is_stale  # noqa: E402
from .search import Answer, Fusion, Hit, Retriever, Tiers  # noqa: E402
from .store import SourceDocument  # noqa: E402

__all__ = [
    "Answer", "BadQuestion", "BuildInProgress", "BuildReport", "CorpusError", "DocumentExists",
    "DocumentNotFound", "DocumentRejected", "Fusion", "Hit", "IndexCorrupt", "IndexMismatch",
    "IndexNotFound", "IndexWriteError", "ModelError", "Passage", "QAError", "Retriever", "SourceDocument", "Tiers", "__version__", "build_index",
    "chunk_text", "is_stale",
]
