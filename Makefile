# make run   - create .venv, install the package (core dependencies only), run the policy comparison
#              (5 scenarios x 8 replications)
# make test  - create .venv, install the package with the dev extra, run the whole test suite
# make bench - speed and memory benchmarks (figures printed, no pass/fail)
# make app   - serve the interactive dashboard on http://127.0.0.1:8765/
# make calibrate - ABC-SMC against the Home Office series (~30 min on 2 cores); results to docs/calibration/
# make validate  - the validation report of the shipped baseline, docs/validation/report.md
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# one stamp per install: the core (run, readme, golden, calibrate, validate), the viz extra
# (app) and the dev extra (test, lint, bench); dev includes viz and the core
CORE := $(VENV)/.installed-core
VIZ := $(VENV)/.installed-viz
DEV := $(VENV)/.installed-dev
PYTEST_WORKERS ?= 2

.PHONY: run test bench lint clean golden readme app calibrate validate ablation

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(CORE)

$(VIZ): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[viz]"
	touch $(VIZ) $(CORE)

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(DEV) $(VIZ) $(CORE)

run: $(CORE)
	$(BIN)/channel-sim compare baseline pilot_50 quota_200 quota_all legal_route_only --replications 8 --out outputs

test: $(DEV)
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests

# the interactive dashboard on http://127.0.0.1:8765/
app: $(VIZ)
	$(BIN)/channel-sim app

bench: $(DEV)
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_experiments.py

lint: $(DEV)
	$(BIN)/ruff check sim tests benchmarks

golden: $(CORE)
	$(BIN)/python tests/refresh_golden.py

clean:
	rm -rf $(VENV) outputs .pytest_cache

# the README's figure and pasted output come from exactly this command
readme: $(CORE)
	$(BIN)/channel-sim compare baseline pilot_50 quota_200 quota_all legal_route_only --replications 8 --out outputs
	cp outputs/comparison_timeseries.png outputs/comparison_differences.png docs/figures/

# which mechanism carries each policy effect (README "Why"): paired runs, one mechanism off at a time
ablation: $(CORE)
	$(BIN)/channel-sim ablate pilot_50 quota_200 --replications 6 --out outputs/ablation
	cp outputs/ablation/ablation.csv docs/figures/

# the calibration behind sim/configs/baseline.yaml: its summary, posterior and particles go to docs/calibration/
calibrate: $(CORE)
	$(BIN)/channel-sim calibrate --out outputs/calibration
	mkdir -p docs/calibration
	cp outputs/calibration/summary.json outputs/calibration/parameters.csv outputs/calibration/posterior.csv \
	   outputs/calibration/particles.parquet outputs/calibration/calibrated.yaml docs/calibration/

# the committed validation report (docs/validation/report.md) comes from exactly this command
validate: $(CORE)
	$(BIN)/channel-sim validate --replications 8 --out docs/validation --store outputs/validation-runs \
	   --calibration docs/calibration
