# Lattice: every task a developer or CI runs, from a fresh clone.
#
#   make demo         set up, build (release) and run `lattice demo`
#   make test         set up, build, then Rust tests, lints, stub check and the pytest suite
#   make bench        the DESIGN §15 benchmarks for real, printed as a table of ratios
#   make wheel        a reproducible manylinux wheel in dist/
#   make repro-check  build the wheel twice in two directories; fail unless byte-identical
#   make wasm         the shipped Wasm state machines (statemachines/*.c) into target/wasm
#   make wasm-repro   build every blob twice in two directories; fail unless byte-identical
#   make nix-check    the flake parses and evaluates (against a stub nixpkgs)
#   make fuzz         coverage-guided fuzzing of the Rust decoders (FUZZ_SECONDS, default 600)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# maturin installs into the active virtualenv: make it this checkout's, whatever the
# calling shell has activated.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
unexport CONDA_PREFIX
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Hypothesis effort: "ci" (default) or "slow" for deep runs.
export HYPOTHESIS_PROFILE ?= ci
# Reproducible builds take their timestamp from the last commit (DESIGN §10).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: help setup develop develop-release demo test test-rust lint stubtest pytest \
        bench wheel repro-check nix-check fuzz fuzz-smoke clean wasm wasm-repro

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# --- set-up -------------------------------------------------------------------------------

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The build backend and every dev tool, pinned in pyproject.toml.
	$(BIN)/pip install --quiet "maturin==1.16.0" $$($(PYTHON) scripts/requirements.py)
	touch $@

setup: $(STAMP)
	bash scripts/system-deps.sh
	rustup show active-toolchain >/dev/null

# The extension in the venv: dev profile for tests (crypto crates still optimised, see
# Cargo.toml), release for the demo and benchmarks.
develop: setup
	$(BIN)/maturin develop --quiet --locked

develop-release: setup
	$(BIN)/maturin develop --quiet --locked --release

# --- the two commands of the README --------------------------------------------------------

demo: develop-release
	$(BIN)/lattice demo

test: develop test-rust lint stubtest pytest fuzz-smoke nix-check repro-check wasm-repro
	@echo "make test: all checks passed"

# --- pieces of `make test` -----------------------------------------------------------------

test-rust:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --all-targets --features python -- -D warnings
	cargo test --locked

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy python/lattice

stubtest: develop
	$(BIN)/python -m mypy.stubtest lattice._lattice --allowlist .stubtest-allowlist

# Benchmarks run once each as smoke tests here (no timing); `make bench` measures.
pytest: develop
	$(BIN)/python -m pytest -q --benchmark-disable $(PYTEST_ARGS)

# --- measurements ----------------------------------------------------------------------------

bench: develop-release
	cargo bench --locked --bench native -- --noplot --save-baseline lattice \
	    | tee target/native-bench.txt
	$(BIN)/python -m pytest benches -q -p no:randomly --benchmark-only \
	    --benchmark-json=target/bench.json --benchmark-columns=min,median,ops
	$(BIN)/python benches/report.py target/bench.json target/native-bench.txt

# --- fuzzing ------------------------------------------------------------------------------

FUZZ_SECONDS ?= 600

# Crashes found are kept in fuzz/regressions/decode/ and replayed by `cargo test`.
fuzz: develop
	FUZZ_SECONDS=$(FUZZ_SECONDS) PYTHON=$(BIN)/python scripts/fuzz.sh

# In `make test`: the fuzz target builds and runs clean for a few seconds.
fuzz-smoke: develop
	FUZZ_SECONDS=15 PYTHON=$(BIN)/python scripts/fuzz.sh

# --- reproducible wheel --------------------------------------------------------------------

wheel: setup
	scripts/build-wheel.sh "$(CURDIR)" dist

repro-check: setup
	scripts/repro-check.sh

nix-check:
	bash nix/check.sh

# The shipped state machines, compiled by the pinned ziglang with DESIGN §10's argv
# (lattice/trust/build.py); blobs are built, never committed.
wasm: develop
	$(BIN)/python -m lattice.trust.build target/wasm

wasm-repro: develop
	$(BIN)/python -m lattice.trust.build --repro

clean:
	rm -rf target dist .repro .tools fuzz/target fuzz/corpus fuzz/artifacts $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
