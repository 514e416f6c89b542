# make run   - create .venv, install, run the policy comparison (5 scenarios x 8 replications)
# make test  - create .venv, install, run the whole test suite
# make bench - speed and memory benchmarks (figures printed, no pass/fail)
# make app   - serve the interactive dashboard on http://127.0.0.1:8765/
# make calibrate - ABC-SMC against the Home Office series (~30 min on 2 cores); results to docs/calibration/
# make validate  - the validation report of the shipped baseline, docs/validation/report.md
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: run test bench lint clean golden readme app calibrate validate

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/channel-sim compare baseline pilot_50 quota_200 quota_all legal_route_only --replications 8 --out outputs

test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests

# the interactive dashboard on http://127.0.0.1:8765/
app: $(STAMP)
	$(BIN)/channel-sim app

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_experiments.py

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks

golden: $(STAMP)
	$(BIN)/python tests/refresh_golden.py

clean:
	rm -rf $(VENV) outputs .pytest_cache

# the README's figure and pasted output come from exactly this command
readme: $(STAMP)
	$(BIN)/channel-sim compare baseline pilot_50 quota_200 quota_all legal_route_only --replications 8 --out outputs
	cp outputs/comparison_timeseries.png outputs/comparison_differences.png docs/figures/

# the calibration behind configs/baseline.yaml: its summary, posterior and particles go to docs/calibration/
calibrate: $(STAMP)
	$(BIN)/channel-sim calibrate --out outputs/calibration
	mkdir -p docs/calibration
	cp outputs/calibration/summary.json outputs/calibration/parameters.csv outputs/calibration/posterior.csv \
	   outputs/calibration/particles.parquet outputs/calibration/calibrated.yaml docs/calibration/

# the committed validation report (docs/validation/report.md) comes from exactly this command
validate: $(STAMP)
	$(BIN)/channel-sim validate --replications 8 --out docs/validation --store outputs/validation-runs \
	   --calibration docs/calibration
