"""Writes scikit-learn reference values for a PCA test: PCA(n, svd_solver="full")
in float64 on the rows of a .npy file (run once; the outputs are committed).

    python pca_reference.py rows.npy OUTDIR [--components 10]

OUTDIR gets explained_variance_ratio.csv (1 x K, repr precision), mean.csv (1 x d)
and components.csv.gz (K x d, one component a row, sign fixed so that each
component's largest-magnitude loading is positive, 10 significant digits).
"""

import argparse
import gzip
import os

import numpy as np
import sklearn
from sklearn.decomposition import PCA


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows")
    ap.add_argument("outdir")
    ap.add_argument("--components", type=int, default=10)
    args = ap.parse_args()
    X = np.load(args.rows).astype(np.float64)
    pca = PCA(n_components=args.components, svd_solver="full").fit(X)
    comps = pca.components_.copy()
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    os.makedirs(args.outdir, exist_ok=True)
    with open(os.path.join(args.outdir, "explained_variance_ratio.csv"), "w") as f:
        f.write(",".join(repr(float(v)) for v in pca.explained_variance_ratio_) + "\n")
    with open(os.path.join(args.outdir, "mean.csv"), "w") as f:
        f.write(",".join(repr(float(v)) for v in pca.mean_) + "\n")
    with gzip.GzipFile(os.path.join(args.outdir, "components.csv.gz"), "wb", mtime=0) as f:
        for c in comps:
            f.write((",".join("%.10g" % v for v in c) + "\n").encode())
    print("scikit-learn", sklearn.__version__, "numpy", np.__version__, "rows", X.shape)


if __name__ == "__main__":
    main()
