# faultline: the commands a user and a contributor need. `make run` and `make test` are the
# contract: both install what is missing and make sure PostgreSQL and Redis answer first.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

-include .env
export

DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/faultline
REDIS_URL ?= redis://127.0.0.1:6379
# Builds go outside the checkout (kept across clean clones of the same folder), one directory per
# checkout: server functions are addressed by a hash of the checkout's path, so the browser and
# server builds must never mix artifacts of two checkouts.
CARGO_TARGET_DIR ?= $(HOME)/.cache/faultline/target-$(shell pwd | cksum | cut -d' ' -f1)
# Match cargo-leptos' debug flags so plain cargo commands reuse its artifacts.
DEBUG_RUSTFLAGS := --cfg erase_components
PATH := $(HOME)/.cargo/bin:$(HOME)/.local/bin:/usr/local/bin:$(PATH)
# sentry-python for the SDK tests (installed by scripts/setup.sh --test).
FAULTLINE_SDK_PYTHON ?= $(CARGO_TARGET_DIR)/sdk-venv/bin/python
export DATABASE_URL REDIS_URL CARGO_TARGET_DIR PATH FAULTLINE_SDK_PYTHON

.PHONY: run run-debug test bench setup setup-test services build lint fmt unit e2e clean-data

## run: install what is missing, start PostgreSQL and Redis if needed, build (release) and serve on 127.0.0.1:3000
run: setup services
	cargo leptos build --release --precompress
	LEPTOS_SITE_ROOT=target/site "$(CARGO_TARGET_DIR)/release/faultline"

## run-debug: like run, with a faster debug build
run-debug: setup services
	cargo leptos build
	LEPTOS_SITE_ROOT=target/site "$(CARGO_TARGET_DIR)/debug/faultline"

## test: every check CI runs: formatting, clippy (server and browser builds), unit and integration tests, browser tests
test: setup-test services lint e2e unit

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

services:
	scripts/services.sh

## unit: unit tests and integration tests against the real PostgreSQL and Redis
unit:
	RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo test --features ssr --tests

## e2e: the browser tests (builds the debug site first)
e2e:
	cargo leptos build
	scripts/e2e.sh

## bench: release server on a fresh database, driven through the Sentry envelope endpoint; prints the figures
## (INSTANCES=3: three servers sharing PostgreSQL and Redis, one SIGKILLed mid-run)
bench: setup services
	scripts/bench.sh --instances $(or $(INSTANCES),1)

## lint: cargo fmt --check and clippy -D warnings on both builds
lint:
	cargo fmt --check
	RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo clippy --features ssr --all-targets -- -D warnings
	RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings

fmt:
	cargo fmt

## clean-data: stop and delete the project-local PostgreSQL and Redis under .data/ (if any)
clean-data:
	-[ -f .data/redis/redis.pid ] && kill "$$(cat .data/redis/redis.pid)"
	-[ -d .data/postgres ] && { if [ "$$(id -u)" = 0 ]; then runuser -u postgres -- $$(ls -d /usr/lib/postgresql/*/bin | tail -n1)/pg_ctl -D .data/postgres stop -m fast; else $$(ls -d /usr/lib/postgresql/*/bin | tail -n1)/pg_ctl -D .data/postgres stop -m fast; fi; }
	rm -rf .data
