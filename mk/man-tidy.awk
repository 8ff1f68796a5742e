# Tidies a page from argument-parser's generate-manual for man -l --warnings: the help texts'
# blank lines become paragraph breaks (.Pp; mdoc warns on empty lines), and runs of indented
# lines (the Examples: blocks) become literal displays, so commands keep their layout.
/^$/ { if (literal) { print ".Ed"; literal = 0 }; print ".Pp"; next }
/^ / { if (!literal) { print ".Bd -literal -offset 2n"; literal = 1 }; sub(/^  /, ""); print; next }
{ if (literal) { print ".Ed"; literal = 0 }; print }
END { if (literal) print ".Ed" }
