# make test-onnx: rf-export's ONNX models run by onnxruntime (from PyPI) and compared with
# rf-predict on every test row (Tests/ONNX). Installs onnx, onnxruntime and numpy, at the
# versions tested, into a venv under .build-onnx/ when they are missing.
ONNX_VENV := $(CURDIR)/.build-onnx/venv
ONNX_PIP_PACKAGES := onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6

.PHONY: test-onnx onnx-deps
onnx-deps:
	@$(ONNX_VENV)/bin/python -c 'import onnx, onnxruntime, numpy' 2>/dev/null || { \
	  echo "installing $(ONNX_PIP_PACKAGES) into $(ONNX_VENV)" >&2; \
	  python3 -m venv $(ONNX_VENV) 2>/dev/null || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(ONNX_VENV); }; \
	  $(ONNX_VENV)/bin/pip install -q --disable-pip-version-check $(ONNX_PIP_PACKAGES); }

test-onnx: build onnx-deps
	timeout 600 bash Tests/ONNX/test-onnx.bash $(BIN) $(ONNX_VENV)/bin/python
