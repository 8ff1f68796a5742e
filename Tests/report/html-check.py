#!/usr/bin/env python3
"""html-check FILE [WORD...]: FILE must be well-formed HTML (every non-void element closed in
order, no stray end tag), hold no script, external URL, link, iframe or object, and its text
(tags stripped, hover titles included) must contain every WORD. Exit 0, else 1 with a message."""
import html.parser
import re
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# SVG elements written self-closing (<rect .../>) are fine.
FORBIDDEN = {"script", "link", "iframe", "object", "embed", "img", "base"}


class Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.tags = [], [], [], 0

    def where(self):
        return "line %d, column %d" % self.getpos()

    def handle_starttag(self, tag, attrs):
        self.tags += 1
        if tag in FORBIDDEN:
            self.errors.append("%s: <%s> is not allowed in a self-contained page" % (self.where(), tag))
        for name, value in attrs:
            if value and re.search(r"(https?|ftp):|^//", value) or (name in ("href", "src", "xlink:href", "xmlns") and value):
                self.errors.append("%s: <%s %s=%r> refers outside the page" % (self.where(), tag, name, value))
            if name.startswith("on"):
                self.errors.append("%s: <%s %s> is a script" % (self.where(), tag, name))
        if tag not in VOID:
            self.stack.append((tag, self.where()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            open_tag = self.stack[-1] if self.stack else ("nothing", "")
            self.errors.append("%s: </%s> closes <%s> opened at %s" % (self.where(), tag, open_tag[0], open_tag[1]))
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def main():
    if len(sys.argv) < 2:
        print("usage: html-check FILE [WORD...]", file=sys.stderr)
        return 64
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        source = f.read()
    c = Checker()
    c.feed(source)
    c.close()
    errors = c.errors[:]
    for tag, at in c.stack:
        errors.append("<%s> opened at %s is never closed" % (tag, at))
    if not source.lstrip().lower().startswith("<!doctype html>"):
        errors.append("no <!DOCTYPE html> at the start")
    # A URL in text (a runner naming its endpoint) is harmless; a fetch from CSS is not.
    for m in re.finditer(r"url\(|@import|@font-face", source):
        line = source.count("\n", 0, m.start()) + 1
        errors.append("line %d: '%s' refers outside the page" % (line, m.group(0)))
    text = " ".join(c.text)
    for word in sys.argv[2:]:
        if word not in text:
            errors.append("the page's text lacks %r" % word)
    for e in errors[:20]:
        print("%s: %s" % (path, e), file=sys.stderr)
    if errors:
        return 1
    print("%s: valid, %d elements, %d bytes" % (path, c.tags, len(source.encode())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
