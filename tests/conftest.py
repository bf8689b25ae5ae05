from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# In CI the generated documents are the same on every run, so that whether a change lands never
# depends on a draw; a local run explores new ones (two reader bugs were found that way).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
INTERVIEW = ROOT / "corpus" / "optics_valley_interview.txt"
# Small copies of the shared data live in the repo, so that a clone with nothing beside it passes.
DATA = ROOT / "tests" / "data"


def _shared(name: str) -> Path:
    return DATA / name


@pytest.fixture(scope="session")
def interview_text() -> str:
    return INTERVIEW.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def dev_questions() -> list[dict]:
    return [json.loads(line) for line in _shared("dev_questions.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def off_topic_questions() -> list[dict]:
    return [json.loads(line) for line in _shared("off_topic_questions.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def dev_path() -> Path:
    return _shared("dev_questions.jsonl")


@pytest.fixture(scope="session")
def off_topic_path() -> Path:
    return _shared("off_topic_questions.jsonl")


@pytest.fixture(scope="session")
def interview_index(tmp_path_factory) -> tuple[Path, Path]:
    """A corpus holding the interview, and its built index (built once per session)."""
    from qa import build_index

    base = tmp_path_factory.mktemp("interview")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(INTERVIEW, corpus / INTERVIEW.name)
    build_index(corpus, base / "index")
    return corpus, base / "index"


@pytest.fixture(scope="session")
def retriever(interview_index):
    from qa import Retriever

    return Retriever.load(interview_index[1])


@pytest.fixture
def workspace(tmp_path, interview_index) -> tuple[Path, Path]:
    """A private copy of the interview corpus and index that a test may change."""
    corpus, index = interview_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


# A corpus of several formats, for staleness checks that must run no reader.
FIXTURES = ROOT / "tests" / "fixtures"
BINARY_AND_HTML = ("wikipedia_mozilla_2015.pdf", "ebb_org_blog_post.html")
BAD_FILES = {"empty.txt": b"", "blob.md": b"\x00\x01\x02binary", "notes.pdf": b"%PDF-1.4"}


@pytest.fixture(scope="session")
def mixed_index(interview_index, tmp_path_factory) -> tuple[Path, Path]:
    """The interview plus a PDF, an HTML page and three files the build skips (built once)."""
    from qa import build_index

    base = tmp_path_factory.mktemp("mixed")
    shutil.copytree(interview_index[0], base / "corpus")
    shutil.copytree(interview_index[1], base / "index")
    for name in BINARY_AND_HTML:
        shutil.copy(FIXTURES / name, base / "corpus" / name)
    for name, data in BAD_FILES.items():
        (base / "corpus" / name).write_bytes(data)
    build_index(base / "corpus", base / "index")
    return base / "corpus", base / "index"


@pytest.fixture
def mixed(mixed_index, tmp_path) -> tuple[Path, Path]:
    shutil.copytree(mixed_index[0], tmp_path / "corpus")
    shutil.copytree(mixed_index[1], tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


@pytest.fixture
def reader_calls(monkeypatch) -> list[str]:
    """Names passed to the format readers, as in a fresh process (the extraction cache emptied)."""
    import qa.corpus

    calls: list[str] = []
    real = qa.corpus.read

    def counting(name, data):
        calls.append(name)
        return real(name, data)

    monkeypatch.setattr(qa.corpus, "_EXTRACTED", {})
    monkeypatch.setattr(qa.corpus, "read", counting)
    return calls
