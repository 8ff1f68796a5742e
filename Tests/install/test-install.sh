#!/usr/bin/env bash
# make install into a temporary DESTDIR: the tree it writes, the installed tools run from there
# on a small real pipeline (the same forest, byte for byte, as the build's tools), every man page
# rendered by `man -l --warnings` without a warning, every completion script parsed by its
# shell, then make uninstall leaving the DESTDIR empty, and files install did not write kept.
#
#   bash Tests/install/test-install.sh FROM 'TOOL ...'    (FROM: build or dist; from mk/install.mk)
set -euo pipefail
from=${1:?build or dist} tools=${2:?tool list}
cd "$(dirname "$0")/../.."
build_bin=$PWD/.build/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
destdir=$work/destdir
mkdir "$destdir"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Shells for the completion checks: zsh and fish are small Debian packages.
if ! command -v zsh >/dev/null || ! command -v fish >/dev/null; then
  echo "installing zsh fish (completion checks)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zsh fish >/dev/null; } ||
    echo "note: could not install zsh/fish; their completion scripts are only checked to exist" >&2
fi

make --no-print-directory install INSTALL_FROM="$from" DESTDIR="$destdir" PREFIX=/usr/local
root=$destdir/usr/local

# --- the tree ---------------------------------------------------------------------------------
for t in $tools; do
  for f in bin/$t share/man/man1/$t.1 share/bash-completion/completions/$t \
           share/zsh/site-functions/_$t share/fish/vendor_completions.d/$t.fish; do
    [ -s "$root/$f" ] || fail "$f missing or empty"
  done
  [ -x "$root/bin/$t" ] || fail "bin/$t is not executable"
  # The page renders without a warning and names the tool.
  warnings=$(MANWIDTH=80 man -l --warnings "$root/share/man/man1/$t.1" 2>&1 >/dev/null) || fail "man -l $t.1 failed"
  [ -z "$warnings" ] || fail "man -l --warnings $t.1: $warnings"
  MANWIDTH=80 man -l "$root/share/man/man1/$t.1" 2>/dev/null | grep -q "^NAME" || fail "$t.1 has no NAME section"
  MANWIDTH=80 man -l "$root/share/man/man1/$t.1" 2>/dev/null | grep -q "^ *$t " || fail "$t.1 does not name $t"
  bash -n "$root/share/bash-completion/completions/$t" || fail "bash -n: completions/$t"
  grep -q "complete .*$t" "$root/share/bash-completion/completions/$t" || fail "completions/$t registers no completion for $t"
  if command -v zsh >/dev/null; then zsh -n "$root/share/zsh/site-functions/_$t" || fail "zsh -n: _$t"; fi
  if command -v fish >/dev/null; then fish -n "$root/share/fish/vendor_completions.d/$t.fish" || fail "fish -n: $t.fish"; fi
done
# Exactly these files, plus the manifest.
expected=$(( $(wc -w <<<"$tools") * 5 + 1 ))
found=$(find "$destdir" -type f | wc -l)
[ "$found" -eq "$expected" ] || fail "install wrote $found files, expected $expected"
[ -f "$root/share/grove/install-manifest" ] || fail "no install manifest"

# --- the installed tools, run from the DESTDIR --------------------------------------------------
version=$("$root/bin/zmat" --version) || fail "installed zmat --version failed"
[ "$version" = "$("$build_bin/zmat" --version)" ] || fail "installed zmat --version says '$version'"
[ "$from" = build ] || ! ldd "$root/bin/zmat" | grep -q libswiftCore || fail "portable zmat links libswiftCore dynamically"
(
  set -e
  export PATH="$root/bin:/usr/bin:/bin"
  cd "$work"
  [ "$(command -v rf-tree)" = "$root/bin/rf-tree" ]
  mnist-decode "$OLDPWD/datasets/mnist-images-2k" -o train.zmat
  pca-fit -k 12 train.zmat -o pca.zmat
  pca-project -m pca.zmat train.zmat | rf-tree --trees 4 --seed 3 -o forest.zmat
  mnist-decode "$OLDPWD/datasets/mnist-test-3k" | pca-project -m pca.zmat | rf-predict -m forest.zmat | rf-eval > report.txt
  # The same forest as the build's own tools make.
  "$build_bin/mnist-decode" "$OLDPWD/datasets/mnist-images-2k" | "$build_bin/pca-fit" -k 12 -o pca-build.zmat
  "$build_bin/pca-project" -m pca-build.zmat train.zmat | "$build_bin/rf-tree" --trees 4 --seed 3 -o forest-build.zmat
  cmp forest.zmat forest-build.zmat
  grep -q '^accuracy: 0\.[0-9]*' report.txt
) || fail "the pipeline of installed tools failed or differs from the build's"
[ -f "$work/report.txt" ] && echo "installed pipeline: $(head -1 "$work/report.txt")"

# --- uninstall ----------------------------------------------------------------------------------
make --no-print-directory uninstall DESTDIR="$destdir" PREFIX=/usr/local
left=$(find "$destdir" -mindepth 1)
[ -z "$left" ] || fail "uninstall left: $left"
if make --no-print-directory uninstall DESTDIR="$destdir" PREFIX=/usr/local 2>"$work/err"; then
  fail "a second uninstall succeeded"
fi
grep -q "nothing was installed" "$work/err" || fail "a second uninstall said: $(cat "$work/err")"

# Files and folders install did not write survive an install and uninstall.
mkdir -p "$destdir/usr/local/bin" "$destdir/usr/local/share/man/man1"
echo keep > "$destdir/usr/local/bin/other-tool"
make --no-print-directory install INSTALL_FROM="$from" DESTDIR="$destdir" PREFIX=/usr/local >/dev/null
make --no-print-directory uninstall DESTDIR="$destdir" PREFIX=/usr/local >/dev/null
left=$(cd "$destdir" && find . -mindepth 1 | sort | tr '\n' ' ')
[ "$left" = "./usr ./usr/local ./usr/local/bin ./usr/local/bin/other-tool ./usr/local/share ./usr/local/share/man ./usr/local/share/man/man1 " ] ||
  fail "after install + uninstall over existing folders: $left"

if [ "$failures" -gt 0 ]; then echo "test-install: $failures failures" >&2; exit 1; fi
echo "test-install: ok ($(wc -w <<<"$tools") tools from $from: binaries, man pages, bash/zsh/fish completions; uninstall clean)"
