# make run   - create .venv, install the package (core dependencies only), run the policy comparison
#              (5 scenarios x 8 replications)
# make test  - create .venv, install the package with the dev extra, run the whole test suite
# make bench - speed and memory benchmarks (figures printed, no pass/fail); make bench-study: the 400-run study
# make app   - serve the interactive dashboard on http://127.0.0.1:8765/
# make calibrate - emulator-assisted ABC-SMC against the Home Office series (~45 min on 2 cores); results to docs/calibration/
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

.PHONY: run test bench bench-study lint clean golden readme app calibrate validate ablation per-pound recross study \
        forecast-validation attribution calibrate-abc

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

# the posterior-style study benchmark (issue 9: 5 scenarios x 40 posterior draws x 2 replications, 2022-2027,
# 400 runs on 2 processes; target 10 minutes): separate from make bench because of its length; with
# BENCH_STUDY_ARGS=--prior the parameter sets span the prior ranges instead (a heavier study)
bench-study: $(DEV)
	$(BIN)/python benchmarks/bench_experiments.py --study $(BENCH_STUDY_ARGS)

lint: $(DEV)
	$(BIN)/ruff check sim tests benchmarks notebooks

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

# returns against interception per pound from one date (4 Aug 2025), paired against the no-policy run:
# docs/figures/per_pound.csv and per_pound.png (48 runs of 2022-2027, 2 workers)
per-pound: $(CORE)
	$(BIN)/python -m sim.experiments.perpound --replications 4 --workers 2 --out outputs/per_pound --figures docs/figures

# recross_share_6m against returns.repeat_priority_share for pilot_50 and quota_200:
# docs/figures/recross_sensitivity.csv and recross_sensitivity.png (52 runs, 2 workers)
recross: $(CORE)
	$(BIN)/python -m sim.experiments.recross --replications 4 --workers 2 --out outputs/recross --figures docs/figures

# the five shipped scenarios over the posterior (issue 11): 100 weighted draws x 2 future inflow paths x
# 2 replications each, 2022-2027 (2,000 runs; 1 hour 40 minutes on 2 cores, about 2 hours with the threshold
# and phase steps). The draws run in blocks of 10, each its own store: an interrupted study keeps its finished
# blocks and resumes. STUDY_DRAWS=40 makes a smaller one on the same first draws. Tables and figures go to
# docs/study/: predictive.csv (median, 5-95%, variance split),
# predictive_bands.png, posterior_sensitivity.{csv,png} (which inputs drive the pilot's effect), verdict_profile.csv, and the critical
# weekly quota over the study's first 20 draws x 2 paths (a bisection per cell: 80 runs when no cell breaks, more when some do):
# threshold_curve.csv, threshold_cells.csv, threshold-printed.txt, threshold_posterior.png; and the quota x
# interception phase diagram with each of its 24 cells run for the first 10 draws (240 runs of 2025-2027):
# phase_posterior.{csv,png}
STUDY_DRAWS ?= 100
study: $(CORE)
	$(BIN)/channel-sim compare baseline pilot_50 quota_200 quota_all legal_route_only --posterior docs/calibration \
	   --draws $(STUDY_DRAWS) --paths 2 --replications 2 --block 10 --workers 2 --out outputs/study \
	   > outputs/study-printed.txt
	$(BIN)/python -m sim.experiments.posterior_sensitivity --study outputs/study --figures docs/study \
	   > outputs/study-sensitivity-printed.txt
	$(BIN)/python -m sim.experiments.posterior_threshold --draws 20 --paths 2 --hi 800 --tolerance 50 \
	   --out outputs/study-threshold --figures docs/study > outputs/threshold-printed.txt
	$(BIN)/python -m sim.experiments.phase --posterior docs/calibration --draws 10 --paths 1 --replications 1 \
	   --out outputs/phase-posterior --figures docs/study > outputs/phase-printed.txt
	mkdir -p docs/study && cp outputs/study/predictive.csv outputs/study/predictive_bands.png \
	   outputs/study/posterior_draws.csv outputs/study-printed.txt outputs/study-sensitivity-printed.txt docs/study/

# the calibration behind sim/configs/baseline.yaml (issues 10-11): emulator-assisted ABC-SMC, 492 real runs,
# about 32 minutes on 2 idle cores; docs/calibration/ gets the summary with diagnostics, the particles and
# weights of every generation, the pair plot and the emulator check; scripts/apply_calibration.py then writes
# its shipped point (the best of the posterior medoid and the 12 closest particles) into baseline.yaml and params
calibrate: $(CORE)
	$(BIN)/channel-sim calibrate --spec sim/configs/calibration/baseline_emulated.yaml --workers 2 \
	   --out outputs/calibration-emulated
	mkdir -p docs/calibration
	cd outputs/calibration-emulated && cp summary.json parameters.csv posterior.csv calibrated.yaml \
	   emulator_check.csv design.parquet posterior_pairs.png ../../docs/calibration/
	# every generation's accepted particles with their weights (the 26,000 emulated candidates stay in outputs/)
	$(BIN)/python -c "import pandas as pd; p = pd.read_parquet('outputs/calibration-emulated/particles.parquet'); \
	   p[p.accepted].to_parquet('docs/calibration/particles.parquet', compression='zstd', index=False)"

# the earlier plain ABC-SMC (40 particles, 856 runs, about 30 minutes on 2 cores), kept for comparison: it did not
# converge (final ESS 1.6 of 40); its summary, posterior and particles go to docs/calibration/abc/
calibrate-abc: $(CORE)
	$(BIN)/channel-sim calibrate --spec sim/configs/calibration/baseline.yaml --out outputs/calibration
	mkdir -p docs/calibration/abc
	cp outputs/calibration/summary.json outputs/calibration/parameters.csv outputs/calibration/posterior.csv \
	   outputs/calibration/particles.parquet outputs/calibration/calibrated.yaml docs/calibration/abc/

# the committed validation report (docs/validation/report.md) comes from exactly this command
validate: $(CORE)
	$(BIN)/channel-sim validate --replications 8 --out docs/validation --store outputs/validation-runs \
	   --calibration docs/calibration

# rolling-origin forecasts from 2023-07-31, 2024-01-31 and 2024-07-31 (12 months each) against a seasonal
# naive forecast and a Poisson random walk: docs/validation/rolling*.{csv,png,md} and the section of
# docs/validation/report.md (10 draws from the converged posterior x 2 runs per origin; 3-10 minutes on 2 cores)
forecast-validation: $(CORE)
	$(BIN)/channel-sim forecast --rolling --posterior docs/calibration --draws 10 --replications 2 --workers 2 \
	   --out docs/validation --store outputs/forecast-runs --quiet

# the change in arrivals from Aug 2024-Jul 2025 to Aug 2025-Jul 2026 under the pilot as it was run, by lever
# (Shapley values; 8 sets of levers x 10 draws x 2 runs): docs/figures/attribution.{csv,png}
attribution: $(CORE)
	$(BIN)/channel-sim attribute pilot_as_realised --from 2024-08:2025-07 --to 2025-08:2026-07 \
	   --posterior docs/calibration --draws 10 --replications 2 --workers 2 --out outputs/attribution
	cp outputs/attribution/attribution.csv outputs/attribution/attribution.png docs/figures/

# executed copies of the teaching notebooks as HTML, for readers who will not run them (not committed:
# outputs/ is ignored). NOTEBOOK_SIZE=small builds them in a few minutes; full takes 15-20 minutes on 2 cores.
NOTEBOOK_SIZE ?= full
NOTEBOOKS_HTML ?= outputs/notebooks-html
NOTEBOOKS_STAMP := $(VENV)/.installed-notebooks

$(NOTEBOOKS_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,notebooks]"
	touch $(NOTEBOOKS_STAMP) $(DEV) $(VIZ) $(CORE)

.PHONY: notebooks-html lock
notebooks-html: $(NOTEBOOKS_STAMP)
	$(BIN)/python scripts/make_notebooks.py --check
	mkdir -p $(NOTEBOOKS_HTML)
	CHANNEL_SIM_NOTEBOOK_SIZE=$(NOTEBOOK_SIZE) MPLBACKEND=module://matplotlib_inline.backend_inline \
	   $(BIN)/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=3600 \
	   --ExecutePreprocessor.kernel_name=python3 --output-dir $(NOTEBOOKS_HTML) notebooks/[0-9][0-9]_*.ipynb
	@echo "executed notebooks ($(NOTEBOOK_SIZE) size): $(NOTEBOOKS_HTML)/"

# the development environment pinned: the dev extra installed into a fresh temporary venv with $(PY),
# frozen to requirements/dev-<python version>.lock. Use it with
#   pip install -r requirements/dev-3.11.lock && pip install -e . --no-deps
lock:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install -q -e ".[dev]"; \
	ver=$$("$$tmp/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	plat=$$("$$tmp/venv/bin/python" -c 'import platform; print(platform.system(), platform.machine())'); \
	mkdir -p requirements; out=requirements/dev-$$ver.lock; \
	{ echo "# The development environment (channel-sim's dev extra) pinned, written by make lock:"; \
	  echo "# pip freeze of a fresh venv with Python $$ver on $$plat."; \
	  echo "#   python -m pip install -r $$out && python -m pip install -e . --no-deps"; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -v -i '^channel-sim[ =@]'; } > "$$out"; \
	echo "wrote $$out ($$(grep -vc '^#' "$$out") packages)"
