"""scikit-learn PCA peer: PCA(10) fit on the Fashion-MNIST training images
(60000 x 784), timed inside the process; the driver times the whole process.

    python pca_sklearn.py --solver covariance_eigh
    python pca_sklearn.py --solver randomized --repeat-transform 10

Input: --npy rows (the 64x64 shape: `mnist-decode --resize 64x64`, then
`zmat convert -o x.npy`), or the IDX gz from Debian's dataset-fashion-mnist, decoded with numpy
(decode_s), converted to --dtype (convert_s, float32 by default as in
../shared/reference), then PCA.fit (fit_s). With --transform the fitted model
also projects the uint8 training rows repeated --repeat-transform times in
blocks of 60000 rows (transform_s and uint8 input MB/s: the peer of
pca-project's throughput), block by block so memory stays bounded.
"""

import argparse

from sklearn.decomposition import PCA

from common import Timer, blas_info, fashion_idx_paths, read_idx, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="covariance_eigh",
                    choices=["auto", "covariance_eigh", "randomized", "full", "arpack"])
    ap.add_argument("--components", type=int, default=10)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--images", default=fashion_idx_paths("train")[0])
    ap.add_argument("--npy", help="read the rows from this .npy (e.g. `zmat convert x.zmat -o x.npy`) instead of --images")
    ap.add_argument("--transform", action="store_true")
    ap.add_argument("--repeat-transform", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with Timer() as decode:
        if args.npy:
            import numpy as np
            X8 = np.load(args.npy)
        else:
            X8 = read_idx(args.images)
    with Timer() as convert:
        X = X8.astype(args.dtype)
    pca = PCA(n_components=args.components, svd_solver=args.solver, random_state=args.seed)
    with Timer() as fit:
        pca.fit(X)
    fields = dict(peer="sklearn-pca", solver=args.solver, dtype=args.dtype,
                  rows=int(X.shape[0]), columns=int(X.shape[1]), components=args.components,
                  decode_s=decode.seconds, convert_s=convert.seconds, fit_s=fit.seconds,
                  explained_variance_ratio_sum=float(pca.explained_variance_ratio_.sum()))
    if args.transform:
        del X
        with Timer() as transform:
            for _ in range(args.repeat_transform):
                # Per block: uint8 -> float, project; as a user would stream it.
                pca.transform(X8.astype(args.dtype))
        in_mb = X8.nbytes * args.repeat_transform / 1e6
        fields.update(transform_rows=int(X8.shape[0]) * args.repeat_transform,
                      transform_s=transform.seconds,
                      transform_mb_per_s=in_mb / transform.seconds)
    report(**fields, blas=blas_info())


if __name__ == "__main__":
    main()
