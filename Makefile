# The README's commands. Each target installs what it needs first, so a fresh
# clone needs nothing done by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-data
WORKSPACE := .csmetrics/workspace.duckdb
HEADLINE := mrr,net_new_mrr,arpa,active_customers,customer_churn_rate,customer_retention_rate,net_revenue_retention,gross_revenue_retention,clv,crc,renewal_rate,fcr_rate,nps,csat,ces,product_adoption_rate

.PHONY: install demo test lint bench browser-deps clean mutation docs

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/csmetrics demo --out $(DEMO_DIR)
	$(BIN)/csmetrics ingest --data $(DEMO_DIR) --workspace $(WORKSPACE)
	$(BIN)/csmetrics metrics --workspace $(WORKSPACE) --period month --last 12 --metrics $(HEADLINE)
	$(BIN)/csmetrics report --workspace $(WORKSPACE) --out report.html
	@echo "wrote report.html"

# Debian's Chromium for the browser tests (root on CI; skipped when present).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || ( \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will fail" )

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# CSMETRICS_STRICT_SKIPS=1: a skipped test fails (a missing dependency must not pass silently);
# HYPOTHESIS_PROFILE=ci: derandomized property tests, so a CI failure replays anywhere (docs/testing.md).
test: install browser-deps lint
	CSMETRICS_STRICT_SKIPS=1 HYPOTHESIS_PROFILE=ci $(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/python bench/run.py

# Mutation testing (cosmic-ray) of the modules in mutation/config.toml; not part of `make test`.
# Prints killed / total and the surviving mutants per module (docs/testing.md).
mutation: install
	$(BIN)/python mutation/run.py

# docs/cli.md's command reference, regenerated from the Typer app (a test fails when it is stale).
docs: install
	$(BIN)/python -m csmetrics.cli.docs

clean:
	rm -rf $(VENV) .csmetrics $(DEMO_DIR) report.html .bench
