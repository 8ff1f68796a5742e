# make install / make uninstall: the tools, a man page each, and bash/zsh/fish completions
# (issue 13).
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [INSTALL_FROM=dist|build]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]
#   make test-install   install into a temporary DESTDIR, run the installed tools, uninstall
#   make test-progress  progress lines through a pseudo-terminal (below)
#
# Binaries: by default (INSTALL_FROM=dist) the portable ones of `make dist` (mk/containers.mk):
# the Swift runtime linked in, the x86-64 baseline, stripped; they run on any x86-64 Linux with
# the shared libraries dist/SHARED-LIBS.txt names, with no Swift toolchain. INSTALL_FROM=build
# installs .build/release's instead: tuned to this machine's CPU and linked against the Swift
# toolchain's runtime at the path it has here (/opt/swift), so for this machine only.
#
# Installed: $(PREFIX)/bin/TOOL, $(PREFIX)/share/man/man1/TOOL.1,
# $(PREFIX)/share/bash-completion/completions/TOOL, $(PREFIX)/share/zsh/site-functions/_TOOL,
# $(PREFIX)/share/fish/vendor_completions.d/TOOL.fish, and the list of what was written,
# $(PREFIX)/share/grove/install-manifest, which `make uninstall` reads (mk/install-tree).
#
# The tools are Package.swift's executable products: its `tools` list and the names added to it
# in `products:`. Man pages come from argument-parser's generate-manual (the tool its
# generate-manual plugin runs, built here from the package's own checkout, run on the binaries
# being installed: the plugin would rebuild the whole package with other flags), tidied for
# `man -l --warnings` by mk/man-tidy.awk. Pages and completions are generated into .build/, not
# committed.

PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_FROM ?= dist

INSTALL_GOALS := install uninstall test-install install-files
ifneq ($(filter $(INSTALL_GOALS),$(MAKECMDGOALS)),)
INSTALL_TOOLS := $(shell sed -n -e 's/^let tools = \[\(.*\)\]/\1/p' \
  -e 's/^ *products: *(tools + \[\([^]]*\)\]).*/\1/p' Package.swift | tr -d '",')
# The pages' date: the last commit's, so the same commit generates the same pages.
MAN_DATE := $(shell d=$$(git log -1 --format=%ct 2>/dev/null) && date -u -d "@$$d" +%F || date -u +%F)
endif

ifeq ($(INSTALL_FROM),dist)
INSTALL_BIN_DIR := $(DIST)/bin
else ifeq ($(INSTALL_FROM),build)
INSTALL_BIN_DIR := $(BIN)
else
$(error INSTALL_FROM must be dist or build, not '$(INSTALL_FROM)')
endif
INSTALL_SHARE := $(CURDIR)/.build/install-$(INSTALL_FROM)
INSTALL_MANIFEST := $(PREFIX)/share/grove/install-manifest
GENERATE_MANUAL := $(BIN)/generate-manual

.PHONY: install uninstall test-install install-files

# INSTALL_FROM=build: the tools come from `make build` (dist's come from mk/containers.mk).
$(if $(filter build,$(INSTALL_FROM)),$(INSTALL_TOOLS:%=$(BIN)/%)): $(BUILT)
	@test -x $@
$(GENERATE_MANUAL): | deps
	swift build $(SWIFT_FLAGS) --product generate-manual

$(INSTALL_SHARE)/man1/%.1: $(INSTALL_BIN_DIR)/% $(GENERATE_MANUAL) mk/man-tidy.awk
	@mkdir -p $(@D)/raw
	$(GENERATE_MANUAL) $< --date $(MAN_DATE) -o $(@D)/raw
	awk -f mk/man-tidy.awk $(@D)/raw/$*.1 > $@.tmp && mv $@.tmp $@
$(INSTALL_SHARE)/bash/%: $(INSTALL_BIN_DIR)/%
	@mkdir -p $(@D)
	@$< --generate-completion-script bash > $@.tmp && mv $@.tmp $@
$(INSTALL_SHARE)/zsh/_%: $(INSTALL_BIN_DIR)/%
	@mkdir -p $(@D)
	@$< --generate-completion-script zsh > $@.tmp && mv $@.tmp $@
$(INSTALL_SHARE)/fish/%.fish: $(INSTALL_BIN_DIR)/%
	@mkdir -p $(@D)
	@$< --generate-completion-script fish > $@.tmp && mv $@.tmp $@

# One "MODE<TAB>SOURCE<TAB>TARGET" line per installed file, for mk/install-tree.
install_line = printf '%s\t%s\t%s\n' $(1) '$(2)' '$(PREFIX)/$(3)';
install_lines = $(foreach t,$(INSTALL_TOOLS), \
  $(call install_line,755,$(INSTALL_BIN_DIR)/$(t),bin/$(t)) \
  $(call install_line,644,$(INSTALL_SHARE)/man1/$(t).1,share/man/man1/$(t).1) \
  $(call install_line,644,$(INSTALL_SHARE)/bash/$(t),share/bash-completion/completions/$(t)) \
  $(call install_line,644,$(INSTALL_SHARE)/zsh/_$(t),share/zsh/site-functions/_$(t)) \
  $(call install_line,644,$(INSTALL_SHARE)/fish/$(t).fish,share/fish/vendor_completions.d/$(t).fish))

install-files: $(foreach t,$(INSTALL_TOOLS),$(INSTALL_BIN_DIR)/$(t) $(INSTALL_SHARE)/man1/$(t).1 \
  $(INSTALL_SHARE)/bash/$(t) $(INSTALL_SHARE)/zsh/_$(t) $(INSTALL_SHARE)/fish/$(t).fish)

install: install-files
	@{ $(install_lines) } | bash mk/install-tree install '$(DESTDIR)' '$(INSTALL_MANIFEST)'

uninstall:
	@bash mk/install-tree uninstall '$(DESTDIR)' '$(INSTALL_MANIFEST)'

# The installed tree checked and run from a temporary DESTDIR. INSTALL_FROM=build by default,
# as `make test` has just built those (the portable build takes minutes more);
# `make test-install TEST_INSTALL_FROM=dist` checks the portable binaries.
TEST_INSTALL_FROM ?= build
test-install:
	bash Tests/install/test-install.sh '$(TEST_INSTALL_FROM)' '$(INSTALL_TOOLS)'

# Progress lines (GroveCLI's ProgressLine) through a real pseudo-terminal, on pipes and with
# --progress, for every tool that reports progress; outputs byte-identical across the three.
.PHONY: test-progress
test-progress: build
	python3 Tests/progress/test-progress.py $(BIN)
