# Serverless stages on this machine: one grove-stage per line of stages.tsv, on loopback.
#   make stages          start them (ports in $(STAGES_DIR)/stages.env)
#   make stages-stop     stop them (SIGTERM: they drain), by PID
#   make run-http        start, `make run RUNNER=http`, stop: the DAG over HTTP, end to end
#   make test-stage      the stage server's end-to-end tests (limits, CloudEvents, the DAG)
STAGES_DIR ?= $(CURDIR)/.stages
export STAGES_DIR

.PHONY: stages stages-stop run-http test-stage
stages: build
	@TREE_FLAGS='$(TREE_FLAGS)' pipelines/serverless/stages.bash start $(STAGES_DIR)

stages-stop:
	@pipelines/serverless/stages.bash stop $(STAGES_DIR)

run-http: stages
	@trap 'pipelines/serverless/stages.bash stop $(STAGES_DIR)' EXIT; $(MAKE) --no-print-directory run RUNNER=http

test-stage: build
	bash pipelines/serverless/test-stage.bash
