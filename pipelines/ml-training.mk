# The ml-training DAG (faasm/tless "ml-training", after Orion and RMMap), as make rules:
#
#   decode -> partition (seeded shuffle, PCA shards) -> PCA per shard -> RF tree tasks
#          -> merge into one forest -> validate on held-out data
#
# `make run` builds the tools and runs the DAG in parallel; `make dag` runs only the DAG with
# the tools in $(BIN). Every output also depends on the tool that makes it: a rebuilt tool
# redoes its stage and what follows. Every output is written atomically by the tools; a failing recipe's
# target is deleted (.DELETE_ON_ERROR); parameters are recorded in $(OUT)/params/ so changing
# one (SEED, TREES, ...) rebuilds exactly what depends on it.

DATASET ?= datasets/mnist-images-2k
DATASET_LABELS ?=
TEST ?= datasets/mnist-test-3k
TEST_LABELS ?=
PCA ?= 2
RF ?= 8
TREES ?= 16
K ?= 10
FEATURES ?= pca
PCA_MODE ?= global
RF_DATA ?= shard
SEED ?= 1
SHUFFLE_SEED ?= 1
TREE_FLAGS ?=
OUT ?= out
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(filter $(FEATURES),pca raw),)
$(error FEATURES must be pca or raw, not '$(FEATURES)')
endif
ifeq ($(filter $(PCA_MODE),global shard),)
$(error PCA_MODE must be global or shard, not '$(PCA_MODE)')
endif
ifeq ($(filter $(RF_DATA),shard chunk),)
$(error RF_DATA must be shard or chunk, not '$(RF_DATA)')
endif

P := $(OUT)/params
TIMES := $(OUT)/stage-times.tsv
# Every task runs as `$(TIME) STAGE COMMAND...`: `stage` (pipelines/stage-time.bash) hands the
# command to the runner RUNNER (pipelines/runners/RUNNER.bash: where the task runs) and logs its
# start and end to $(TIMES). The rules below are the one DAG definition every runner shares.
RUNNER ?= local
ifeq ($(wildcard $(CURDIR)/pipelines/runners/$(RUNNER).bash),)
$(error RUNNER must name a file in pipelines/runners/ ($(notdir $(basename $(wildcard $(CURDIR)/pipelines/runners/*.bash)))), not '$(RUNNER)')
endif
export RUNNER
export GROVE_PIPELINES := $(CURDIR)/pipelines
export BASH_ENV := $(GROVE_PIPELINES)/stage-time.bash
export STAGE_TIMES := $(abspath $(TIMES))
TIME = STAGE_OUTPUTS='$(or $(STAGE_TARGETS),$@)' STAGE_INPUTS='$^' stage
# A grouped rule (&:) names all its targets in STAGE_TARGETS ($@ is only the one make wanted), so
# a runner that plans from STAGE_OUTPUTS (RUNNER=slurm) knows every file the task makes.

# Fault tolerance (issue 10; pipelines/stage-time.bash does it, for every runner): a failed task
# is retried RETRIES times (backoff from RETRY_DELAY s). With MIN_TREES=N a tree task still failing
# is lost instead of failing the run (listed in $(LOST)) and merge joins the trees that exist,
# refusing fewer than N (per forest). Without MIN_TREES a lost task fails the run, as before.
RETRIES ?= 0
MIN_TREES ?=
LOST := $(OUT)/lost-tasks.txt
export RETRIES
export STAGE_LOST := $(abspath $(LOST))
LOSABLE := $(if $(MIN_TREES),STAGE_LOSABLE=1)
MERGE_FLAGS := $(if $(MIN_TREES),--min-trees $(MIN_TREES))
# A runner may drive the whole DAG itself (pipelines/RUNNER/submit, given make's command line and
# DAG_OUT: RUNNER=slurm submits it as jobs); otherwise make runs it here.
DAG_DRIVER := $(wildcard pipelines/$(RUNNER)/submit)

# Shell calls at parse time cost milliseconds each, so the DAG's arithmetic is done in one:
# "J/SHARD/CHUNK/FIRST" per tree task J (shard J mod PCA, chunk J div PCA, first tree index).
SHARD_IDS := $(shell seq 0 $$(($(PCA) - 1)))
TASKS := $(shell j=0; while [ $$j -lt $(RF) ]; do echo $$j/$$((j % $(PCA)))/$$((j / $(PCA)))/$$((j * $(TREES))); j=$$((j + 1)); done)
task_field = $(word $(2),$(subst /, ,$(1)))
TASK_IDS := $(foreach t,$(TASKS),$(call task_field,$(t),1))
SHARDS := $(SHARD_IDS:%=$(OUT)/shard-%.zmat)
TREE_FILES := $(TASK_IDS:%=$(OUT)/trees-%.zmat)
# With RF_DATA=chunk a shard's tasks split it into this many chunks, as the original does.
CHUNKS := $(shell echo $$((($(RF) + $(PCA) - 1) / $(PCA))))

# Every parameter is recorded in $(P)/NAME, rewritten only when its value changes; targets
# depend on the parameters they use. Stamped only when the DAG itself is asked for.
PARAMS := DATASET DATASET_LABELS TEST TEST_LABELS PCA K SHUFFLE_SEED SEED TREES TREE_FLAGS RF RF_DATA INFER
ifneq ($(filter dag infer $(OUT)/%,$(MAKECMDGOALS)),)
$(shell pipelines/param-stamp $(P) $(foreach v,$(PARAMS),'$(v)=$($(v))'))
endif

# Inputs may be a folder of PNGs, <label>/<name>.png (depend on every file), or IDX/CSV files.
input_files = $(if $(wildcard $(1)/.),$(sort $(wildcard $(1)/*/*.png)),$(1))

.PHONY: run run-built run-locked dag infer clean-outputs
run: build
	@$(MAKE) --no-print-directory run-built

# One run at a time per OUT: a second `make run` on the same OUT refuses (exit 1) instead of
# interleaving its writes with the first one's (lock: $(OUT)/.run.lock, flock(1)).
# `run-built` is `run` with the tools already built in BIN (the tests call it).
run-built:
	@mkdir -p $(OUT)
	@flock -n -E 75 $(OUT)/.run.lock $(MAKE) --no-print-directory run-locked || { rc=$$?; \
	  if [ $$rc = 75 ]; then echo "make run: another run holds $(OUT)/.run.lock; not starting a second one on OUT=$(OUT)" >&2; rc=1; fi; exit $$rc; }

run-locked:
	@rm -f $(TIMES) $(LOST)
	@$(if $(DAG_DRIVER),DAG_OUT=$(OUT) $(DAG_DRIVER)) $(MAKE) --no-print-directory -j$(JOBS) dag
	@echo
	@pipelines/stage-report $(TIMES)
	@echo
	@echo "trees:      $$(for f in $(FOREST_FILES); do zmat info $$f | sed -n '/^summary:/,$$ s/^  trees: *//p'; done | awk '{ n += $$1 } END { print n }')"
	@if [ -s $(LOST) ]; then echo "lost:       $$(wc -l < $(LOST)) tree tasks ($$(cut -f2 $(LOST) | xargs -n1 basename | sort -V | paste -sd' ')), see $(LOST)"; fi
	@grep '^accuracy:' $(OUT)/report.txt
	@echo "forest:     $(FOREST_FILES)"
	@echo "report:     $(OUT)/report.txt $(OUT)/report.json $(OUT)/confusion.png"
	@echo "page:       $(OUT)/report.html"

dag: $(OUT)/report.txt $(OUT)/report.json $(OUT)/confusion.png $(OUT)/report.html

clean-outputs:
	rm -rf $(OUT)

# --- decode ---------------------------------------------------------------------------------
$(OUT)/train.zmat: $(call input_files,$(DATASET)) $(DATASET_LABELS) $(P)/DATASET $(P)/DATASET_LABELS $(BIN)/mnist-decode
	$(TIME) decode mnist-decode $(DATASET) $(DATASET_LABELS) -o $@

$(OUT)/test.zmat: $(call input_files,$(TEST)) $(TEST_LABELS) $(P)/TEST $(P)/TEST_LABELS $(BIN)/mnist-decode
	$(TIME) decode mnist-decode $(TEST) $(TEST_LABELS) -o $@

# --- partition: seeded shuffle, then PCA round-robin shards ---------------------------------
$(SHARDS): private STAGE_TARGETS = $(SHARDS)
$(SHARDS) &: $(OUT)/train.zmat $(P)/PCA $(P)/SHUFFLE_SEED $(BIN)/zmat
	$(TIME) partition zmat split -n $(PCA) --shuffle --seed $(SHUFFLE_SEED) $< --pattern '$(OUT)/shard-{i}.zmat'

# --- PCA --------------------------------------------------------------------------------------
ifeq ($(FEATURES),raw)
features = $(OUT)/shard-$(1).zmat
TEST_FEATURES := $(OUT)/test.zmat
else ifeq ($(PCA_MODE),global)
# Shards fit partial statistics in parallel; one merged model serves every shard and the test
# set, so all trees share one feature space and vote together.
features = $(OUT)/features-$(1).zmat
TEST_FEATURES := $(OUT)/test-features.zmat

$(OUT)/pca-part-%.zmat: $(OUT)/shard-%.zmat $(BIN)/pca-fit
	$(TIME) pca pca-fit --partial $< -o $@

$(OUT)/pca.zmat: $(SHARD_IDS:%=$(OUT)/pca-part-%.zmat) $(P)/K $(BIN)/pca-fit
	$(TIME) pca pca-fit --merge $(filter %.zmat,$^) -k $(K) -o $@

$(OUT)/features-%.zmat: $(OUT)/shard-%.zmat $(OUT)/pca.zmat $(BIN)/pca-project
	$(TIME) project pca-project -m $(OUT)/pca.zmat $< -o $@

$(OUT)/test-features.zmat: $(OUT)/test.zmat $(OUT)/pca.zmat $(BIN)/pca-project
	$(TIME) project pca-project -m $(OUT)/pca.zmat $< -o $@
else
# As the original: each shard fits and projects on its own; validation projects the test set
# with each shard's model and averages the shard forests' class probabilities.
features = $(OUT)/features-$(1).zmat

$(OUT)/pca-%.zmat: $(OUT)/shard-%.zmat $(P)/K $(BIN)/pca-fit
	$(TIME) pca pca-fit -k $(K) $< -o $@

$(OUT)/features-%.zmat: $(OUT)/shard-%.zmat $(OUT)/pca-%.zmat $(BIN)/pca-project
	$(TIME) project pca-project -m $(OUT)/pca-$*.zmat $< -o $@

$(OUT)/test-features-%.zmat: $(OUT)/test.zmat $(OUT)/pca-%.zmat $(BIN)/pca-project
	$(TIME) project pca-project -m $(OUT)/pca-$*.zmat $< -o $@
endif

# Every tree task is told the training set's classes, so a shard or chunk that happens to miss
# a class still grows trees that rf-merge can join.
$(OUT)/classes.txt: $(OUT)/train.zmat $(BIN)/zmat
	$(TIME) partition bash -c "zmat info --json $< | grep -o '\"label_counts\": {[^}]*}' | grep -o '\"-\?[0-9]*\":' | tr -d '\":' | paste -sd, > $@.tmp && mv $@.tmp $@"

# --- RF tree tasks ----------------------------------------------------------------------------
# Task j trains TREES trees with global tree indices j*TREES ..., each seeded from SEED and its
# index, so the forest does not depend on how tasks are scheduled.
define tree_task
$(OUT)/trees-$(call task_field,$(1),1).zmat: $(call features,$(call task_field,$(1),2)) $(P)/SEED $(P)/TREES $(P)/TREE_FLAGS $(P)/RF_DATA $(P)/RF $(BIN)/rf-tree $(BIN)/zmat $(OUT)/classes.txt
ifeq ($(RF_DATA),chunk)
	$$(LOSABLE) $$(TIME) rf bash -c "set -o pipefail; zmat split -n $(CHUNKS) --index $(call task_field,$(1),3) $$< | rf-tree --classes $$$$(cat $(OUT)/classes.txt) --trees $(TREES) --seed $(SEED) --tree-index $(call task_field,$(1),4) $(TREE_FLAGS) -o $$@"
else
	$$(LOSABLE) $$(TIME) rf rf-tree $$< --classes $$$$(cat $(OUT)/classes.txt) --trees $(TREES) --seed $(SEED) --tree-index $(call task_field,$(1),4) $(TREE_FLAGS) -o $$@
endif
endef
$(foreach t,$(TASKS),$(eval $(call tree_task,$(t))))

# --- merge and validate -----------------------------------------------------------------------
ifeq ($(FEATURES)-$(PCA_MODE),pca-shard)
FOREST_FILES := $(SHARD_IDS:%=$(OUT)/forest-%.zmat)
shard_trees = $(foreach t,$(TASKS),$(if $(filter $(1),$(call task_field,$(t),2)),$(OUT)/trees-$(call task_field,$(t),1).zmat))

define shard_forest
$(OUT)/forest-$(1).zmat: $(call shard_trees,$(1)) $(BIN)/rf-merge
	$$(TIME) merge rf-merge $(MERGE_FLAGS) $$(filter %.zmat,$$^) -o $$@

$(OUT)/test-proba-$(1).zmat: $(OUT)/forest-$(1).zmat $(OUT)/test-features-$(1).zmat $(BIN)/rf-predict
	$$(TIME) validate rf-predict --proba -m $$< $(OUT)/test-features-$(1).zmat -o $$@
endef
$(foreach s,$(SHARD_IDS),$(eval $(call shard_forest,$(s))))

$(OUT)/predictions.zmat: $(SHARD_IDS:%=$(OUT)/test-proba-%.zmat) $(BIN)/zmat
	$(TIME) validate zmat mean $(filter %.zmat,$^) -o $@
else
FOREST_FILES := $(OUT)/forest.zmat

$(OUT)/forest.zmat: $(TREE_FILES) $(BIN)/rf-merge
	$(TIME) merge rf-merge $(MERGE_FLAGS) $(filter %.zmat,$^) -o $@

$(OUT)/predictions.zmat: $(OUT)/forest.zmat $(TEST_FEATURES) $(BIN)/rf-predict
	$(TIME) validate rf-predict -m $(OUT)/forest.zmat $(TEST_FEATURES) -o $@
endif

# Reports from the predictions (labels travel with them): text, JSON, confusion heat map.
$(OUT)/report.txt $(OUT)/confusion.png: private STAGE_TARGETS = $(OUT)/report.txt $(OUT)/confusion.png
$(OUT)/report.txt $(OUT)/confusion.png &: $(OUT)/predictions.zmat $(BIN)/rf-eval
	$(TIME) report bash -c "rf-eval --plot $(OUT)/confusion.png $(plot_names) $< > $(OUT)/report.txt.tmp && mv $(OUT)/report.txt.tmp $(OUT)/report.txt"

$(OUT)/report.json: $(OUT)/predictions.zmat $(BIN)/rf-eval
	$(TIME) report bash -c "rf-eval --json $< > $@.tmp && mv $@.tmp $@"

# The run's page (grove-report): parameters, a timeline of the tasks logged so far, the stage
# table, scores, scree plot, forest. CLASS_NAMES: comma-separated, label 0 first, or 'fashion'
# (Fashion-MNIST's names are also used when DATASET names it).
CLASS_NAMES ?=
plot_names = $(if $(CLASS_NAMES),--class-names '$(CLASS_NAMES)',$(if $(findstring fashion,$(DATASET)),--class-names fashion))
REPORT_PCA := $(if $(filter raw,$(FEATURES)),,$(if $(filter global,$(PCA_MODE)),$(OUT)/pca.zmat,$(SHARD_IDS:%=$(OUT)/pca-%.zmat)))
# $(1): predictions, $(2): forests, $(3): title.
grove_report = grove-report --times $(TIMES) --params $(P) --runner $(RUNNER) --title '$(3)' \
  --commit "$$(git -C $(CURDIR) describe --always --dirty 2>/dev/null || echo unknown)" \
  $(REPORT_PCA:%=--pca %) $(2:%=--forest %) --predictions $(1) $(if $(CLASS_NAMES),--class-names '$(CLASS_NAMES)') -o $@

$(OUT)/report.html: $(OUT)/predictions.zmat $(FOREST_FILES) $(REPORT_PCA) $(OUT)/report.txt $(OUT)/report.json $(BIN)/grove-report
	$(TIME) report $(call grove_report,$<,$(FOREST_FILES),Grove run report)



# --- ml-inference: the sibling workflow, on the model `make run` trained -----------------------
# partition the test rows -> INFER parallel predict tasks -> gather -> report
INFER ?= 4
INFER_IDS := $(shell seq 0 $$(($(INFER) - 1)))
INFER_SHARDS := $(INFER_IDS:%=$(OUT)/infer/rows-%.zmat)

infer:
ifeq ($(FEATURES)-$(PCA_MODE),pca-shard)
	$(error make infer serves one forest: train with PCA_MODE=global or FEATURES=raw)
endif
	@test -f $(OUT)/forest.zmat || { echo "no $(OUT)/forest.zmat: run 'make run' first" >&2; exit 1; }
	@rm -f $(TIMES)
	@$(MAKE) --no-print-directory -j$(JOBS) $(OUT)/infer/report.txt $(OUT)/infer/report.html
	@pipelines/stage-report $(TIMES)
	@grep '^accuracy:' $(OUT)/infer/report.txt
	@echo "predictions: $(OUT)/infer/predictions.zmat"
	@echo "page:        $(OUT)/infer/report.html"

$(INFER_SHARDS) &: $(OUT)/test.zmat $(P)/INFER $(BIN)/zmat
	@mkdir -p $(OUT)/infer
	$(TIME) partition zmat split -n $(INFER) $< --pattern '$(OUT)/infer/rows-{i}.zmat'

ifeq ($(FEATURES),raw)
$(OUT)/infer/predictions-%.zmat: $(OUT)/infer/rows-%.zmat $(OUT)/forest.zmat $(BIN)/rf-predict
	$(TIME) predict rf-predict -m $(OUT)/forest.zmat $< -o $@
else
$(OUT)/infer/predictions-%.zmat: $(OUT)/infer/rows-%.zmat $(OUT)/forest.zmat $(OUT)/pca.zmat $(BIN)/rf-predict $(BIN)/pca-project
	$(TIME) predict bash -c "set -o pipefail; pca-project -m $(OUT)/pca.zmat $< | rf-predict -m $(OUT)/forest.zmat -o $@"
endif

$(OUT)/infer/predictions.zmat: $(INFER_IDS:%=$(OUT)/infer/predictions-%.zmat) $(BIN)/zmat
	$(TIME) gather zmat cat $(filter %.zmat,$^) -o $@

$(OUT)/infer/report.txt: $(OUT)/infer/predictions.zmat $(BIN)/rf-eval
	$(TIME) report bash -c "rf-eval $< > $@.tmp && mv $@.tmp $@"

$(OUT)/infer/report.html: $(OUT)/infer/predictions.zmat $(OUT)/forest.zmat $(REPORT_PCA) $(OUT)/infer/report.txt $(BIN)/grove-report
	$(TIME) report $(call grove_report,$<,$(OUT)/forest.zmat,Grove inference report)
