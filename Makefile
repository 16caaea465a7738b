# alphastream — `make help` lists the targets. CI runs `make test` unchanged.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-unit test-integration bench lint kafka-jars kafka-up kafka-down clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

setup: $(STAMP) ## Create the virtualenv and install alphastream with dev tools
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

kafka-jars: ## Resolve the pinned Apache Kafka jars from Maven Central (cached, git-ignored)
	bash infra/kafka/fetch-jars.sh

demo: setup ## The main job: embedded broker + chdb, simulated market, scoring, training, hot reload, report
	$(BIN)/alphastream demo

test: setup kafka-jars ## All tests: unit, property and integration (real Kafka, tansu, chdb)
	$(BIN)/pytest tests

test-unit: setup ## Unit and property tests only (no servers, no tests marked slow)
	$(BIN)/pytest tests/unit -m "not slow"

test-integration: setup kafka-jars ## Integration tests against real Apache Kafka, tansu and chdb
	$(BIN)/pytest tests/integration

bench: setup kafka-jars ## Benchmarks: feature engine, scoring kernel, ClickHouse sink, end to end on Apache Kafka
	$(BIN)/alphastream bench engine
	$(BIN)/alphastream bench scoring
	$(BIN)/alphastream bench sink
	$(BIN)/alphastream bench feeds
	$(BIN)/alphastream bench replica --json var/bench/replica.json
	$(BIN)/alphastream bench e2e --workers 1,2,3 --rate 300,1000 --json var/bench/e2e.json
	$(BIN)/alphastream bench lookup

.PHONY: faults
faults: setup kafka-jars ## Fault matrix at full durations on its own Apache Kafka: var/faults/faults.{md,json} (FAULTS_ARGS="--rows a,b" for some rows)
	$(BIN)/python -m streams.devtools.faults --out var/faults $(FAULTS_ARGS)

lint: setup ## ruff + mypy --disallow-untyped-defs
	$(BIN)/ruff check streams training tests
	$(BIN)/ruff format --check streams training tests
	$(BIN)/mypy

kafka-up: setup kafka-jars ## Start a single-node KRaft Apache Kafka on 127.0.0.1:9092 (background)
	$(BIN)/python -m streams.devtools.local.kafka up

kafka-down: ## Stop the broker started by kafka-up
	$(BIN)/python -m streams.devtools.local.kafka down

clean: ## Remove local state (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

TABLES_DIR ?= var/tables
tables: setup ## README model + simulator tables: simulate -> replay -> train --all (with intervals), the day report, learnability
	$(BIN)/alphastream simulate --seed 7 --hours 36 --out $(TABLES_DIR)/sim
	$(BIN)/alphastream replay $(TABLES_DIR)/sim/events.jsonl --out $(TABLES_DIR)/rep
	$(BIN)/alphastream train --source replay $(TABLES_DIR)/rep --all --trials 2 --threads 1 \
		--truth $(TABLES_DIR)/sim/truth.jsonl --models-dir $(TABLES_DIR)/models --report-dir $(TABLES_DIR)/cards
	$(BIN)/alphastream simulate --seed 1 --hours 48 --out $(TABLES_DIR)/day --report
	$(BIN)/python -m tests.unit.test_sim_learnability
	$(BIN)/python -m training.table $(TABLES_DIR)/models > $(TABLES_DIR)/models.md

.PHONY: tables
