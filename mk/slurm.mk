# Slurm (issue 10): `make run RUNNER=slurm` (pipelines/slurm/submit) and its test on a private
# two-node cluster on this machine (pipelines/slurm/test: installs the packages when missing,
# stops what it starts; about 1 minute).
.PHONY: test-slurm
test-slurm: build
	pipelines/slurm/test
