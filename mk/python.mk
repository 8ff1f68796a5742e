# The Python package in python/ (issue 13): numpy's side of zmat, tested against the Swift tools.
#
#   make test-python     create .build-python/venv, pip install ./python[fast], run its tests
#                        (the cross tests run $(BIN)'s zmat, rf-tree, ...; the README's Python
#                        example is extracted and run)
#
# The venv is made once and the package reinstalled only when python/ changed. Python's venv
# module comes from Debian's python3-venv when the interpreter lacks it.

PYTHON ?= python3
PY_DIR := $(CURDIR)/.build-python
PY_VENV := $(PY_DIR)/venv
PY_STAMP := $(PY_DIR)/installed
PY_SOURCES := $(shell find python -type f -not -path '*/__pycache__/*' -not -path 'python/build/*' \
  -not -path '*.egg-info/*' 2>/dev/null)

.PHONY: test-python python-venv
python-venv: $(PY_STAMP)

$(PY_STAMP): $(PY_SOURCES) mk/python.mk
	@if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	  echo "installing python3-venv" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; \
	fi
	@test -x $(PY_VENV)/bin/python || $(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check './python[fast]'
	@rm -rf python/build python/src/*.egg-info
	@touch $@

test-python: build $(PY_STAMP)
	cd python/tests && GROVE_BIN=$(BIN) timeout 300 $(PY_VENV)/bin/python -m unittest discover -t . -s .
