# Grove: build, test, and run the ml-training DAG.
#
#   make run     set up, build, and run the workflow on the shipped MNIST images
#   make test    set up, build, and run every test
#
# Everything a fresh machine needs is installed by `make deps` (apt packages when missing).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

# Release builds, tuned to the building machine (the binaries are for this machine and its
# kind): with AVX-512 (F, BW, DQ, VL) the compiler may use it (-target-cpu skylake-avx512); else
# with AVX2+FMA+BMI2, -target-cpu haswell; else the x86-64 baseline. Outputs are byte-identical
# across the three (tested); only speed differs (pca-fit on 60k x 784: 0.24 / 0.36 / 0.75 s).
# `make PORTABLE=1` forces the baseline. (Swift 6.3 refuses the names x86-64-v3 / x86-64-v4.)
ifeq ($(PORTABLE),)
CPU_LEVEL := $(shell f=$$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null); has() { for x in "$$@"; do echo " $$f " | grep -q " $$x " || return 1; done; }; \
  if has avx512f avx512bw avx512dq avx512vl; then echo skylake-avx512; elif has avx2 fma bmi2; then echo haswell; fi)
endif
SWIFT_FLAGS := -c release $(if $(CPU_LEVEL),-Xswiftc -target-cpu -Xswiftc $(CPU_LEVEL))
BIN ?= $(CURDIR)/.build/release
export PATH := $(BIN):$(PATH)

APT_PACKAGES := libpng-dev libzstd-dev zlib1g-dev pkg-config

.PHONY: all deps build test run clean clean-outputs datasets-fashion help
all: build

help:
	@sed -n '1,8p' Makefile

deps:
	@missing=""; \
	for p in libzstd libpng zlib; do pkg-config --exists $$p 2>/dev/null || missing=1; done; \
	command -v pkg-config >/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(APT_PACKAGES)" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

# `swift build` takes ~0.4 s even with nothing to do; a stamp skips it when no source changed.
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)
BUILT := .build/grove-built-$(or $(CPU_LEVEL),baseline)
build: deps $(BUILT)
$(BUILT): $(SOURCES)
	swift build $(SWIFT_FLAGS)
	@touch $@

test: build
	swift test $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory test-stage
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-onnx
	$(MAKE) --no-print-directory test-install
	$(MAKE) --no-print-directory test-progress

datasets-fashion:
	bash datasets/make-fashion.sh

clean:
	rm -rf .build

include pipelines/ml-training.mk
include pipelines/serverless/serverless.mk
include mk/containers.mk
include mk/slurm.mk
include mk/report.mk
include mk/hardening.mk
include mk/python.mk
include mk/onnx.mk
include mk/install.mk
