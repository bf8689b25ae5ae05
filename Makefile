# The two commands of the README: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860

.PHONY: install browser run test bench-smoke build eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch must come first: otherwise pip pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,bench]"
	# Export the embedding model to ONNX once (queries then run without torch); on failure they use torch.
	-$(PY) -m qa.onnx_model
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(VENV)/bin/qa serve --host $(HOST) --port $(PORT)

build: install
	$(VENV)/bin/qa build

eval: install
	$(VENV)/bin/qa eval ../shared/data/dev_questions.jsonl --off-topic ../shared/data/off_topic_questions.jsonl

test: install browser
	$(PY) -m pytest -q -m "not bench"

# A tiny run of every benchmark, so that `make bench` cannot rot; CI runs it after `make test`.
bench-smoke: install
	$(PY) -m pytest -q -m bench

bench: install
	cd bench && ../$(PY) run.py

clean:
	rm -rf index .pytest_cache tests/artifacts
