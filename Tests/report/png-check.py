#!/usr/bin/env python3
"""png-check SHOT.png: a browser screenshot that is not blank (at least 50 colours, no colour
over 99% of it) and shows the timeline (>= 100 pixels of the first stage's colour, #4c78a8).
A tiny PNG reader (zlib, the five filters): 8-bit RGB or RGBA only."""
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
