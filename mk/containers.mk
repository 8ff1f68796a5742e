# Portable binaries, FROM-scratch OCI images, and the podman runner's set-up (issue 9).
#
#   make dist              every tool with the Swift runtime linked in, in dist/ and a tarball
#   make images            one image per entry of IMAGES (grove/TOOL), OCI archives and a table
#   make run RUNNER=podman the ml-training DAG with every tool run in its image
#   make test-containers   images, --help, pipes, bad input, byte-identical forest, reproducible
#   make containers-clean  remove the images and the container storage (.containers/)
#   make dist-clean        remove dist/ and the portable build (.build-dist/); make clean does both
#
# podman, runc and their friends come from Debian (containers-deps installs them when missing).
# Every podman call reads the project's own configuration, never /etc's:
# CONTAINERS_CONF and CONTAINERS_STORAGE_CONF point into $(CONTAINERS_ROOT), where the storage
# (vfs) lives too.

DIST_SCRATCH := $(CURDIR)/.build-dist
DIST := $(CURDIR)/dist
CONTAINERS_ROOT := $(CURDIR)/.containers
IMAGE_ARCHIVES := $(CONTAINERS_ROOT)/images
export CONTAINERS_CONF := $(CONTAINERS_ROOT)/containers.conf
export CONTAINERS_STORAGE_CONF := $(CONTAINERS_ROOT)/storage.conf

# The shell calls below cost milliseconds per make invocation (the DAG runs make twice), so only
# goals that need them pay: the container goals, and any run with RUNNER=podman.
ifneq ($(filter dist images test-containers containers-deps containers-conf,$(MAKECMDGOALS))$(filter podman,$(RUNNER)),)
TOOLS := $(shell sed -n 's/^let tools = \[\(.*\)\]/\1/p' Package.swift | tr -d '",')
# Each expanded once here (`?=` alone would rerun git for every recipe that sees the variable).
GIT_REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GROVE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
GROVE_VERSION := $(GROVE_VERSION)
GROVE_LICENSE ?= NOASSERTION
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
endif
CONTAINER_APT := podman runc

.PHONY: dist images containers-deps containers-conf containers-clean dist-clean test-containers

# Version, commit, licence and timestamp in a file rewritten only when they change, so a new
# commit relabels the images and renames the tarball, and an unchanged one rebuilds nothing.
IMAGE_LABELS := $(CONTAINERS_ROOT)/labels
.PHONY: FORCE
$(IMAGE_LABELS): FORCE
	@mkdir -p $(@D); l='$(GROVE_VERSION) $(GIT_REVISION) $(GROVE_LICENSE) $(SOURCE_DATE_EPOCH)'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$l" ] || echo "$$l" > $@

# --- portable binaries ------------------------------------------------------------------------
# The x86-64 baseline (no -target-cpu) so they run on any x86-64 machine; the same outputs as the
# tuned build (tested byte for byte). A stamp skips swift build when no source changed.
DIST_BUILT := $(DIST_SCRATCH)/grove-dist-built
DIST_TARBALL := $(DIST)/grove-$(GROVE_VERSION)-linux-x86_64.tar.gz
dist: $(DIST_TARBALL)
$(DIST_BUILT): $(SOURCES) | deps
	swift build -c release --static-swift-stdlib --scratch-path $(DIST_SCRATCH)
	@touch $@

# dist/bin/TOOL (stripped), dist/SHARED-LIBS.txt (what ldd names; Debian 12 packages libc6,
# libstdc++6, libgcc-s1, libzstd1, libpng16-16, zlib1g), and the same tree as a tarball with
# sorted entries and fixed mtimes.
$(DIST)/bin/%: $(DIST_BUILT)
	@mkdir -p $(@D)
	install -m 755 $(DIST_SCRATCH)/release/$* $@.tmp && strip --strip-unneeded $@.tmp && mv $@.tmp $@

DIST_BINS = $(TOOLS) grove-stage
$(DIST)/SHARED-LIBS.txt: $(DIST_BINS:%=$(DIST)/bin/%)
	@for t in $(DIST_BINS); do echo "$$t:"; ldd $(DIST)/bin/$$t | sed 's/ *(0x[0-9a-f]*)$$//'; done > $@.tmp && mv $@.tmp $@

$(DIST_TARBALL): $(DIST_BINS:%=$(DIST)/bin/%) $(DIST)/SHARED-LIBS.txt $(IMAGE_LABELS)
	@rm -f $(DIST)/grove-*-linux-x86_64.tar.gz
	tar -C $(DIST) --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
	  --transform 's,^,grove-$(GROVE_VERSION)/,' -cf - bin SHARED-LIBS.txt | gzip -n -9 > $@.tmp && mv $@.tmp $@
	@echo "dist: $@ ($$(du -h $@ | cut -f1)); shared libraries in $(DIST)/SHARED-LIBS.txt"

# --- container engine -------------------------------------------------------------------------
containers-deps:
	@missing=""; for c in podman runc; do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(CONTAINER_APT)" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CONTAINER_APT) >/dev/null; \
	fi

containers-conf: $(CONTAINERS_CONF) $(CONTAINERS_STORAGE_CONF)
CONTAINERS_DRIVER ?=
$(CONTAINERS_ROOT)/%.conf: containers/%.conf.in
	@mkdir -p $(CONTAINERS_ROOT)/tmp
	d='$(CONTAINERS_DRIVER)'; [ -n "$$d" ] || { grep -qw overlay /proc/filesystems && d=overlay || d=vfs; }; \
	sed "s,@ROOT@,$(CONTAINERS_ROOT),g; s,@DRIVER@,$$d,g" $< > $@.tmp && mv $@.tmp $@

# --- images -----------------------------------------------------------------------------------
# IMAGES lists image names; each NAME is built from IMAGE_BINS_NAME (default: the tool NAME),
# with IMAGE_ENTRYPOINT_NAME / IMAGE_CMD_NAME (JSON arrays; default the first binary),
# IMAGE_ENV_NAME (K=V words), IMAGE_EXPOSE_NAME and IMAGE_CA_NAME (1: add CA certificates).
# Entries go here, before the lines below expand IMAGES (or in a file included before this one).
# A stage image is one more entry, e.g. (once grove-stage is a product of Package.swift):
#   IMAGES += stage-rf-predict
#   IMAGE_BINS_stage-rf-predict := grove-stage rf-predict
#   IMAGE_ENV_stage-rf-predict := PORT=8080
#   IMAGE_EXPOSE_stage-rf-predict := 8080
#   IMAGE_CA_stage-rf-predict := 1
#   IMAGE_CMD_stage-rf-predict := ["rf-predict"]
IMAGES ?= $(TOOLS)
# A stage image per tool the DAG's stages serve (pipelines/serverless/stages.tsv): grove-stage
# serving that tool on $PORT. The command line is the Knative Service's `args`
# (pipelines/knative/services.yaml); the default serves the tool's plainest form.
STAGE_IMAGE_TOOLS := mnist-decode zmat pca-fit pca-project rf-tree rf-merge rf-predict rf-eval
ifeq ($(origin IMAGES),file)
IMAGES += $(STAGE_IMAGE_TOOLS:%=stage-%)
endif
define stage_image
IMAGE_BINS_stage-$(1) := grove-stage $(1)
IMAGE_ENV_stage-$(1) := PORT=8080
IMAGE_EXPOSE_stage-$(1) := 8080
IMAGE_CMD_stage-$(1) := ["--host", "0.0.0.0", "--", "$(1)", "{input}"]
endef
$(foreach t,$(STAGE_IMAGE_TOOLS),$(eval $(call stage_image,$(t))))
IMAGE_PREFIX ?= grove/
image_bins = $(or $(IMAGE_BINS_$(1)),$(1))
IMAGE_TABLE := $(IMAGE_ARCHIVES)/images.tsv

images: $(IMAGE_TABLE)
	@column -t -s $$'\t' $<

# One archive per image: rebuilt when its binaries, the recipe or the labels change.
$(IMAGE_ARCHIVES)/%.oci.tar: containers/Containerfile containers/build-image $(IMAGE_LABELS) | containers-deps containers-conf
	VERSION=$(GROVE_VERSION) REVISION=$(GIT_REVISION) LICENSE=$(GROVE_LICENSE) \
	containers/build-image --name $* $(foreach b,$(call image_bins,$*),--bin $(DIST)/bin/$(b)) \
	  $(if $(IMAGE_ENTRYPOINT_$*),--entrypoint '$(IMAGE_ENTRYPOINT_$*)') \
	  $(if $(IMAGE_CMD_$*),--cmd '$(IMAGE_CMD_$*)') \
	  $(foreach e,$(IMAGE_ENV_$*),--env $(e)) $(if $(IMAGE_EXPOSE_$*),--expose $(IMAGE_EXPOSE_$*)) \
	  $(if $(IMAGE_CA_$*),--ca) --dir $(CONTAINERS_ROOT)/context/$* --tag $(IMAGE_PREFIX)$* --archive $@
$(foreach i,$(IMAGES),$(eval $(IMAGE_ARCHIVES)/$(i).oci.tar: $(foreach b,$(call image_bins,$(i)),$(DIST)/bin/$(b))))

# image, manifest digest, layer digest, compressed layer bytes (what a push uploads), root
# filesystem bytes.
# The list of images in a file rewritten only when it changes, so the table follows IMAGES.
IMAGE_LIST := $(CONTAINERS_ROOT)/image-list
$(IMAGE_LIST): FORCE
	@mkdir -p $(@D); l='$(IMAGES)'; [ "$$(cat $@ 2>/dev/null)" = "$$l" ] || echo "$$l" > $@

$(IMAGE_TABLE): $(IMAGES:%=$(IMAGE_ARCHIVES)/%.oci.tar) containers/image-table $(IMAGE_LIST)
	containers/image-table $(IMAGE_ARCHIVES) $(IMAGE_PREFIX) $(IMAGES) > $@.tmp && mv $@.tmp $@

# --- the podman runner --------------------------------------------------------------------------
# make run RUNNER=podman: images first (the DAG's tool prerequisites stay the local build's);
# the runner defines a function per tool in GROVE_TOOLS.
ifeq ($(RUNNER),podman)
run: images
export GROVE_TOOLS := $(TOOLS)
endif

# --- tests --------------------------------------------------------------------------------------
test-containers: build dist images
	GROVE_TOOLS='$(TOOLS)' bash containers/test.sh

containers-clean:
	@if command -v podman >/dev/null && [ -f $(CONTAINERS_CONF) ]; then podman rm -af >/dev/null 2>&1 || true; fi
	@grep -o " $(CONTAINERS_ROOT)/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null || true
	rm -rf $(CONTAINERS_ROOT)

dist-clean:
	rm -rf $(DIST) $(DIST_SCRATCH)
clean: containers-clean dist-clean
