# The ml-training DAG (placeholder until the workflow lands): decode the shipped dataset.
DATASET ?= datasets/mnist-images-2k
OUT ?= out

run: build
	@mkdir -p $(OUT)
	mnist-decode $(DATASET) -o $(OUT)/train.zmat
	zmat info $(OUT)/train.zmat

clean-outputs:
	rm -rf $(OUT)
