"""scikit-learn RandomForestClassifier peer: train on the cached features,
predict the test rows, print one JSON line.

    python rf_sklearn.py --dataset fashion --features raw
    python rf_sklearn.py --dataset mnist5k --features pca10 --n-jobs 1

Defaults are scikit-learn's (n_estimators=100, gini, sqrt features,
bootstrap); --max-depth/--min-samples-split give the OpenCV-like settings.
Loading the cached .npy files is outside the timed sections.
"""

import argparse

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from common import Timer, blas_info, load_features, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["fashion", "mnist5k"], default="fashion")
    ap.add_argument("--features", choices=["raw", "pca10"], default="raw")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-depth", type=int, default=None)
    ap.add_argument("--min-samples-split", type=int, default=2)
    args = ap.parse_args()

    X, y, Xt, yt = load_features(args.dataset, args.features)
    rf = RandomForestClassifier(n_estimators=args.trees, n_jobs=args.n_jobs,
                                random_state=args.seed, max_depth=args.max_depth,
                                min_samples_split=args.min_samples_split)
    with Timer() as train:
        rf.fit(X, y)
    with Timer() as predict:
        pred = rf.predict(Xt)
    nodes = sum(e.tree_.node_count for e in rf.estimators_)
    report(peer="sklearn-rf", dataset=args.dataset, features=args.features,
           train_rows=int(X.shape[0]), columns=int(X.shape[1]), test_rows=int(Xt.shape[0]),
           trees=args.trees, threads=args.n_jobs, max_depth=args.max_depth,
           min_samples_split=args.min_samples_split,
           accuracy=float(np.mean(pred == yt)), train_s=train.seconds,
           predict_s=predict.seconds, nodes=int(nodes), blas=blas_info())


if __name__ == "__main__":
    main()
