# The Python package in python/ (issue 13): numpy's side of zmat, tested against the Swift tools.
#
#   make test-python     create .build-python/venv, pip install ./python[fast], run its tests
#                        (the cross tests run $(BIN)'s zmat, rf-tree, ...; the README's Python
#                        example is extracted and run)
#
# The venv is made once and the package reinstalled only when python/src (or the libzstd) changed. Python's venv
# module comes from Debian's python3-venv when the interpreter lacks it.

PYTHON ?= python3
PY_DIR := $(CURDIR)/.build-python
PY_VENV := $(PY_DIR)/venv
# The zstandard release that bundles the system's libzstd (the one the Swift tools link): with
# it a matrix saved from Python is byte-identical to a tool's stream, and the tests check that.
# Another libzstd: the latest zstandard, and that one test is skipped.
ZSTD_SYSTEM := $(shell dpkg-query -W -f '$${Version}' libzstd1 2>/dev/null | sed 's/[+~-].*//')
PY_ZSTANDARD_1.5.4 := 0.20.0
PY_ZSTANDARD_1.5.5 := 0.22.0
PY_ZSTANDARD_1.5.6 := 0.23.0
PY_ZSTANDARD_1.5.7 := 0.25.0
PY_ZSTANDARD := $(PY_ZSTANDARD_$(ZSTD_SYSTEM))
PY_STAMP := $(PY_DIR)/installed-zstd$(ZSTD_SYSTEM)
PY_SOURCES := python/pyproject.toml python/README.md $(shell find python/src -type f \
  -not -path '*/__pycache__/*' -not -path '*.egg-info/*' 2>/dev/null)

.PHONY: test-python python-venv
python-venv: $(PY_STAMP)

$(PY_STAMP): $(PY_SOURCES) mk/python.mk
	@if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	  echo "installing python3-venv" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; \
	fi
	@test -x $(PY_VENV)/bin/python || $(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check './python[fast]' \
	  $(if $(PY_ZSTANDARD),'zstandard==$(PY_ZSTANDARD)')
	@rm -rf python/build python/src/*.egg-info
	@touch $@

test-python: build $(PY_STAMP)
	GROVE_BIN=$(BIN) timeout 300 $(PY_VENV)/bin/python python/tests/run.py
