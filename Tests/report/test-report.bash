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
python3 - "$tmp/shot.png" <<'PY' || fail "the screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), "expected 8-bit RGB(A), got depth %d type %d" % (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), width * bpp
rows, prev, colours = [], bytearray(stride), {}
for y in range(height):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3]); colours[px] = colours.get(px, 0) + 1
    prev = line
total = width * height
top = max(colours.values())
decode_blue = colours.get(bytes([0x4c, 0x78, 0xa8]), 0)
print("test-report: screenshot %dx%d, %d colours, commonest %.1f%%, %d pixels of the first stage's colour"
      % (width, height, len(colours), 100.0 * top / total, decode_blue))
assert len(colours) >= 50, "only %d colours: blank?" % len(colours)
assert top < 0.99 * total, "one colour covers %.1f%%" % (100.0 * top / total)
assert decode_blue >= 100, "the timeline's bars are not drawn"
PY
echo "test-report: OK in $((SECONDS - started)) s"
