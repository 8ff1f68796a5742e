#!/usr/bin/env bash
# Random-forest benchmark (issue 4): rf-tree --trees 100 --threads 2 on
# Fashion-MNIST train (60k rows) with raw 784 pixels and with PCA-10
# features, rf-predict on the 10k test rows, accuracy via rf-eval; against
# scikit-learn RandomForestClassifier(n_estimators=100, n_jobs=2) and ranger
# (num.trees=100, num.threads=2). Then accuracy on the MNIST 2k/3k split.
#
#   bench/forest.sh                           # from the repository root
#   REPEATS_LONG=3 REPEATS=5 bench/forest.sh
#   DATASETS="mnist5k" bench/forest.sh        # the small split only
#
# Features: peers read bench/.cache (raw pixels; PCA-10 from scikit-learn fitted
# on the training rows, written once by bench/peers/common.py); Grove makes its
# own with mnist-decode | pca-fit | pca-project (equal to scikit-learn's within
# 1e-4, issue 3), or with GROVE_FEATURES=shared read the peers' files. Goals: PCA-10 >= 10x faster than the fastest peer; raw >= 5x
# with peak RSS <= 1/3 of scikit-learn's; predicting 10k rows < 0.1 s.
# Accuracy goals: Fashion raw >= 0.872, PCA-10 >= 0.817; MNIST 2k/3k raw >= 0.915,
# PCA-10 >= 0.845. Markdown on stdout, raw runs in bench/results/.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_init forest
DATASETS=${DATASETS:-fashion mnist5k}

if have_python_peers; then
    # Writes bench/.cache/*.npy once (about 20 s); a no-op afterwards.
    "${PEER_ENV[@]}" "$VENV_PY" "$PEERS_DIR/common.py" >/dev/null
fi
ranger_ok=0
if have_ranger; then ranger_ok=1; fi

# grove_inputs DATASET: $SCRATCH/<d>-{raw,pca10}-{train,test}.zmat, or nothing.
# GROVE_FEATURES=shared feeds Grove the peers' cached .npy features instead
# (zmat convert X.npy --labels-from y.npy), the very same numbers.
grove_inputs() {
    local d=$1 decode fit project zmat f split
    if [[ ${GROVE_FEATURES:-own} == shared ]]; then
        zmat=$(grove_tool zmat) && have_python_peers || return 1
        for f in raw pca10; do
            for split in train test; do
                "$zmat" convert "$CACHE_DIR/$d-$f-$split-X.npy" --labels-from "$CACHE_DIR/$d-$f-$split-y.npy" \
                    -o "$SCRATCH/$d-$f-$split.zmat" || return 1
            done
        done
        return 0
    fi
    decode=$(grove_tool mnist-decode) && fit=$(grove_tool pca-fit) && project=$(grove_tool pca-project) \
        || return 1
    if [[ $d == fashion ]]; then
        "$decode" "$FASHION_DIR"/train-{images-idx3,labels-idx1}-ubyte.gz -o "$SCRATCH/$d-raw-train.zmat" &&
            "$decode" "$FASHION_DIR"/t10k-{images-idx3,labels-idx1}-ubyte.gz -o "$SCRATCH/$d-raw-test.zmat" \
            || return 1
    else
        local train="$REPO_DIR/datasets/mnist-images-2k" test="$REPO_DIR/datasets/mnist-test-3k"
        if ! compgen -G "$train/*/*.png" >/dev/null || ! compgen -G "$test/*/*.png" >/dev/null; then
            have_python_peers || return 1
            train="$CACHE_DIR/mnist-images-2k" test="$CACHE_DIR/mnist-test-3k"
            note "datasets/mnist-{images-2k,test-3k} not there yet: using $train, $test"
            "$VENV_PY" "$PEERS_DIR/make_images.py" train "$train" >/dev/null
            "$VENV_PY" "$PEERS_DIR/make_images.py" test "$test" >/dev/null
        fi
        "$decode" "$train" -o "$SCRATCH/$d-raw-train.zmat" &&
            "$decode" "$test" -o "$SCRATCH/$d-raw-test.zmat" || return 1
    fi
    "$fit" -k 10 "$SCRATCH/$d-raw-train.zmat" -o "$SCRATCH/$d-pca.zmat" &&
        "$project" -m "$SCRATCH/$d-pca.zmat" "$SCRATCH/$d-raw-train.zmat" -o "$SCRATCH/$d-pca10-train.zmat" &&
        "$project" -m "$SCRATCH/$d-pca.zmat" "$SCRATCH/$d-raw-test.zmat" -o "$SCRATCH/$d-pca10-test.zmat"
}

for d in $DATASETS; do
    if [[ $d == fashion ]]; then
        label="Fashion 60k/10k" test_rows=10000 train_rows=60000 n=$REPEATS_LONG
    else
        label="MNIST 2k/3k" test_rows=3000 train_rows=2000 n=$REPEATS
    fi
    grove_ok=0
    if grove_inputs "$d"; then grove_ok=1; else note "no Grove runs on $d (a tool is missing or failed)"; fi
    for f in raw pca10; do
        train_group="train $label $f"
        predict_group="predict $label $f"
        if ((grove_ok)) && tree=$(grove_tool rf-tree); then
            run_case "$train_group" grove "rf-tree --trees 100 --threads 2" - "$n" items=$train_rows unit=rows -- \
                "$tree" "$SCRATCH/$d-$f-train.zmat" --trees 100 --threads 2 --seed 1 -o "$SCRATCH/forest.zmat"
            if [[ -s $SCRATCH/forest.zmat ]]; then
                if predict=$(grove_tool rf-predict); then
                    run_case "$predict_group" grove "rf-predict" - "$REPEATS" items=$test_rows unit=rows -- \
                        "$predict" -m "$SCRATCH/forest.zmat" "$SCRATCH/$d-$f-test.zmat" -o "$SCRATCH/pred.zmat"
                fi
                if eval_=$(grove_tool rf-eval); then
                    run_case "$predict_group" grove "rf-eval (accuracy)" - 1 -- \
                        "$eval_" -m "$SCRATCH/forest.zmat" "$SCRATCH/$d-$f-test.zmat"
                fi
                rm -f "$SCRATCH/forest.zmat"
            fi
        fi
        if have_python_peers; then
            run_case "$train_group" peer "sklearn RF(100, n_jobs=2)" train_s "$n" items=$train_rows unit=rows -- \
                "${PEER_ENV[@]}" "$VENV_PY" "$PEERS_DIR/rf_sklearn.py" --dataset "$d" --features "$f" \
                --trees 100 --n-jobs 2 --seed 1
        fi
        if ((ranger_ok)); then
            run_case "$train_group" peer "ranger(100, 2 threads)" train_s "$n" items=$train_rows unit=rows -- \
                Rscript "$PEERS_DIR/rf_ranger.R" --dataset "$d" --features "$f" --trees 100 --threads 2 --seed 1
        fi
        derive_case "$train_group" "$predict_group" predict_s
    done
done

echo "## Random forest ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
echo
summarize
echo
echo "Peers' \"timed s\" is fit or predict inside the process (data already loaded); \"wall s\""
echo "is the whole process (interpreter start, loading, train and predict). Grove's rows are"
echo "whole processes. Peer predict rows come from the same runs as their train rows."
