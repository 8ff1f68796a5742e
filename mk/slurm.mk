# Slurm (issue 10): `make run RUNNER=slurm` (pipelines/slurm/submit) and its test on a private
# two-node cluster on this machine (pipelines/slurm/test: installs the packages when missing,
# stops what it starts; about 1 minute).
.PHONY: test-slurm
test-slurm: build
	pipelines/slurm/test

# Scale (issue 10): Fashion-MNIST's 60k training images shifted by every offset in {-2..2}^2,
# 1.5M rows as raw IDX (1.2 GB; not committed). Run the DAG on them with
#   make run DATASET=datasets/fashion-1m/train-images-idx3-ubyte \
#     DATASET_LABELS=datasets/fashion-1m/train-labels-idx1-ubyte \
#     TEST=datasets/fashion/t10k-images-idx3-ubyte.gz TEST_LABELS=datasets/fashion/t10k-labels-idx1-ubyte.gz PCA=8 RF=16
.PHONY: datasets-fashion-1m
datasets-fashion-1m: datasets/fashion-1m/train-images-idx3-ubyte
datasets/fashion-1m/train-images-idx3-ubyte: datasets/make-fashion-1m.py
	bash datasets/make-fashion.sh
	python3 datasets/make-fashion-1m.py datasets/fashion datasets/fashion-1m 2
