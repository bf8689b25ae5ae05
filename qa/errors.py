"""One small hierarchy of errors, each message saying what to do next.

Everything the package raises on purpose is a :class:`QAError`; the CLI and the
web app print ``str(error)`` as a single line and never a traceback.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: a problem the user can act on. ``str()`` says how."""


class CorpusError(QAError):
    """A document could not be read, added or removed."""


class DocumentRejected(CorpusError):
    """A file is not usable text (wrong type, not UTF-8, binary, too large)."""


class DocumentExists(CorpusError):
    """A document with that name is already in the corpus."""


class DocumentNotFound(CorpusError):
    """No document with that name is in the corpus."""


class IndexStoreError(QAError):
    """Base for problems with the index directory."""


class IndexNotFound(IndexStoreError):
    """There is no built index where one was expected."""


class IndexCorrupt(IndexStoreError):
    """The index files are unreadable or inconsistent."""


class IndexMismatch(IndexStoreError):
    """The index was built with another model or an incompatible format."""


class IndexWriteError(IndexStoreError):
    """The new index could not be written (disk full, permissions); the old one is untouched."""


class BuildInProgress(QAError):
    """Another build holds the index lock."""


class BadQuestion(QAError):
    """The question is empty, too long or otherwise unusable."""


class ModelError(QAError):
    """The embedding model could not be loaded."""
