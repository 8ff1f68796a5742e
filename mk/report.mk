# make test-report: the run page (grove-report) checked as a browser shows it. Installs Debian's
# chromium (and tidy) when missing; runs a small DAG, validates the page and screenshots it.
.PHONY: test-report report-deps
report-deps:
	@command -v chromium >/dev/null && command -v tidy >/dev/null || { \
	  echo "installing chromium tidy" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium tidy >/dev/null; }

test-report: build report-deps
	timeout 600 bash Tests/report/test-report.bash $(BIN)
