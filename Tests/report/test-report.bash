#!/usr/bin/env bash
# test-report: runs a small DAG, then checks its report.html: valid HTML with no external
# reference and the stage names, accuracy and tree count in its text (html-check.py, and
# `tidy -e` when installed), and renders it in headless Chromium: the screenshot must not be
# blank and must show the timeline's first stage colour. Bounded: every step has a timeout.
# Usage: test-report.bash BIN_DIR   (the built tools; make test-report passes it)
set -eo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: test-report.bash BIN_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-test-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-report: FAIL: $*" >&2; exit 1; }
started=$SECONDS

# 1. A small DAG (4 tree tasks of 4 trees) writes the page.
timeout 300 make -C "$root" --no-print-directory -j2 dag BIN="$bin" OUT="$tmp/out" RF=4 TREES=4 >"$tmp/make.log" 2>&1 ||
  { tail -20 "$tmp/make.log" >&2; fail "make dag"; }
page=$tmp/out/report.html
[ -s "$page" ] || fail "no $page"
accuracy=$(sed -n 's/^accuracy: //p' "$tmp/out/report.txt")
trees=$(PATH=$bin:$PATH zmat info "$tmp/out/forest.zmat" | sed -n '/^summary:/,$ s/^  trees: *//p')
[ "$trees" = 16 ] || fail "forest has '$trees' trees, expected 16"
echo "test-report: page $(wc -c < "$page") bytes, accuracy $accuracy, $trees trees"

# 2. Valid, self-contained, and it says what it must.
python3 "$here/html-check.py" "$page" decode partition pca project rf merge validate \
  "accuracy" "$accuracy" "$trees" true predicted "explained variance" || fail "html-check"
grep -q '<td>rf</td><td>4</td>' "$page" || fail "the stage table lacks rf's 4 tasks"
if command -v tidy >/dev/null; then
  # tidy exits 2 on errors (1 on warnings, which HTML5's inline SVG draws).
  status=0; timeout 60 tidy -e -q "$page" 2>"$tmp/tidy.log" || status=$?
  [ "$status" -le 1 ] || { cat "$tmp/tidy.log" >&2; fail "tidy -e found errors"; }
  echo "test-report: tidy -e: no errors ($(grep -c Warning "$tmp/tidy.log" || true) warnings)"
else
  echo "test-report: tidy not installed; html.parser only"
fi

# 3. Rendered in headless Chromium: not blank, the timeline drawn.
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || fail "chromium is not installed (make test-report installs it)"
# The browser spawns helpers; timeout's --kill-after ends the browser, its helpers follow it.
timeout -k 5 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
  --user-data-dir="$tmp/profile" --screenshot="$tmp/shot.png" --window-size=1200,1600 \
  "file://$page" >"$tmp/chromium.log" 2>&1 || { tail -5 "$tmp/chromium.log" >&2; fail "chromium"; }
[ -s "$tmp/shot.png" ] || fail "no screenshot"
python3 "$here/png-check.py" "$tmp/shot.png" || fail "the screenshot"
# The check is no rubber stamp: a page without the report fails it.
printf '<!DOCTYPE html><html lang="en"><head><title>x</title></head><body><p>nothing</p></body></html>\n' > "$tmp/blank.html"
timeout -k 5 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
  --user-data-dir="$tmp/profile" --screenshot="$tmp/blank.png" --window-size=1200,1600 \
  "file://$tmp/blank.html" >"$tmp/chromium.log" 2>&1 || fail "chromium (blank page)"
if python3 "$here/png-check.py" "$tmp/blank.png" 2>/dev/null; then fail "png-check accepts a blank page"; fi
echo "test-report: OK in $((SECONDS - started)) s"
