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

# Release builds, tuned to the building machine: on x86-64 with AVX2+FMA+BMI2 the compiler may
# use them (-target-cpu haswell: AVX2, FMA, BMI2); elsewhere the baseline. `make PORTABLE=1` forces the baseline.
ifeq ($(PORTABLE),)
CPU_LEVEL := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo && echo haswell)
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

build: deps
	swift build $(SWIFT_FLAGS)

test: build
	swift test $(SWIFT_FLAGS)

datasets-fashion:
	bash datasets/make-fashion.sh

clean:
	rm -rf .build

include pipelines/ml-training.mk
