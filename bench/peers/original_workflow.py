"""A Python reproduction of the faasm/tless "ml-training" workflow, the peer of
Grove's `make run`: partition -> N x PCA -> M x random forest -> validate.

    python original_workflow.py TRAIN_DIR TEST_DIR [--engine opencv|sklearn]
        [--shards 2] [--tasks 8] [--size 64] [--jobs 2] [--seed 0]
    python original_workflow.py TRAIN.idx.gz TEST.idx.gz --train-labels L.gz --test-labels L.gz ...

TRAIN_DIR and TEST_DIR are ImageFolders of PNGs (`<label>/<name>.png`), or
IDX image files (MNIST/Fashion-MNIST, raw or gz) with their label files, for
the larger runs (Fashion-MNIST 60k/10k).
Prints one JSON line: per-stage wall seconds, whole in-process wall, number of
forests and trees, accuracy on TEST_DIR. The driver adds whole-process wall
and CPU time.

What the original's stage functions do (workflows/ml-training/{partition,pca,
rf}/function.cpp), and what this reproduction does:
- partition: the original deals the image keys round-robin to the N PCA
  functions in listing order. Here the sorted paths are first shuffled with
  --seed (the folder is sorted by class, and each PCA shard is later cut into
  contiguous chunks: unshuffled, a forest would see two or three classes),
  then dealt round-robin.
- pca (one per shard, in parallel): each image is decoded as grayscale
  (cv2.imdecode IMREAD_GRAYSCALE) and resized to 64x64 (cv2.resize, bilinear,
  as the original; --size 28 skips the resize), rows stacked as float32; PCA
  with 10 components (cv2.PCACompute2) fitted on the shard and used to project
  it; the projected rows are cut into M/N contiguous chunks, one per tree task.
  The original used the image's position as its label (a bug); here the label
  is the parent folder's name.
- rf (M tasks, in parallel): cv2.ml.RTrees with the original's settings:
  max depth 10, min sample count 5, regression accuracy 0.01, max categories
  15, 100 trees (TermCriteria MAX_ITER 100), int32 labels (classification);
  each forest is serialised to YAML as the original uploads it.
- validate: the original's validation stage only copies the models. Here
  every forest projects the test images with its own shard's PCA model and all
  forests vote (the sum of the per-class tree votes; ties to the smaller
  class), accuracy on TEST_DIR.
--engine sklearn runs the same DAG with sklearn.decomposition.PCA(10) and
RandomForestClassifier(100 trees, max_depth=10, min_samples_split=5, one
thread per task; --sklearn-defaults for scikit-learn's defaults), voting by
summed class probabilities. --jobs is the number of worker processes that run
a stage's tasks (2 = the machine's cores); each worker is single-threaded.
"""

import argparse
import os
import pickle
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from common import read_idx, report

RTREES = dict(max_depth=10, min_sample_count=5, regression_accuracy=0.01,
              max_categories=15, trees=100)


def list_images(root):
    paths = []
    for label in sorted(os.listdir(root)):
        sub = os.path.join(root, label)
        if os.path.isdir(sub):
            int(label)
            paths.extend(os.path.join(sub, n) for n in sorted(os.listdir(sub)) if n.endswith(".png"))
    return paths


def load_images(paths, size):
    """Decodes (and resizes) images as the original's loadImages does."""
    import cv2
    rows, labels = [], []
    for path in paths:
        img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise ValueError(f"{path}: not a decodable image")
        if size != img.shape[0] or size != img.shape[1]:
            img = cv2.resize(img, (size, size))
        rows.append(img.reshape(1, -1))
        labels.append(int(os.path.basename(os.path.dirname(path))))
    data = np.vstack(rows).astype(np.float32)
    return data, np.array(labels, dtype=np.int32)


def load_spec(spec, size):
    """Rows of one shard: ("png", paths) or ("idx", images, labels, indices).
    Each stage function loads its own shard, as each function of the
    original fetches its own images."""
    if spec[0] == "png":
        return load_images(spec[1], size)
    import cv2
    _, images, labels, indices = spec
    X = read_idx(images)[indices]
    y = read_idx(labels)[indices].astype(np.int32)
    side = int(round(X.shape[1] ** 0.5))
    if size != side:
        X = np.vstack([cv2.resize(row.reshape(side, side), (size, size)).reshape(1, -1) for row in X])
    return X.astype(np.float32), y


def partition(path, labels, seed, shards):
    """Seeded shuffle, then round-robin into shards (see the module doc)."""
    if os.path.isdir(path):
        paths = list_images(path)
        order = np.random.default_rng(seed).permutation(len(paths))
        shuffled = [paths[i] for i in order]
        return [("png", shuffled[s::shards]) for s in range(shards)], len(paths)
    if not labels:
        raise SystemExit(f"{path}: an IDX image file needs its label file (--train-labels/--test-labels)")
    n = len(read_idx(labels))
    order = np.random.default_rng(seed).permutation(n)
    return [("idx", path, labels, order[s::shards]) for s in range(shards)], n


def _init_worker(threads):
    """One thread per worker when workers share the cores: OpenCV's pool and
    OpenBLAS's spinning threads would otherwise oversubscribe them."""
    import cv2
    cv2.setNumThreads(threads)
    if threads == 1:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)


# ---- Stage functions (run in worker processes; talk through files) -----------

def pca_stage(shard, spec, tasks, size, engine, workdir):
    data, labels = load_spec(spec, size)
    if engine == "opencv":
        import cv2
        mean, vectors, _ = cv2.PCACompute2(data, mean=None, maxComponents=10)
        projected = cv2.PCAProject(data, mean, vectors)
        model = {"mean": mean, "vectors": vectors}
    else:
        from sklearn.decomposition import PCA
        pca = PCA(n_components=10).fit(data)
        projected = pca.transform(data).astype(np.float32)
        model = pca
    with open(os.path.join(workdir, f"pca-{shard}.pkl"), "wb") as f:
        pickle.dump(model, f)
    per = projected.shape[0] // tasks
    for t in range(tasks):
        stop = projected.shape[0] if t == tasks - 1 else (t + 1) * per
        np.save(os.path.join(workdir, f"rf-{shard}-{t}-X.npy"), projected[t * per:stop])
        np.save(os.path.join(workdir, f"rf-{shard}-{t}-y.npy"), labels[t * per:stop])
    return shard


def rf_stage(shard, task, engine, seed, sklearn_defaults, workdir):
    X = np.load(os.path.join(workdir, f"rf-{shard}-{task}-X.npy"))
    y = np.load(os.path.join(workdir, f"rf-{shard}-{task}-y.npy"))
    if engine == "opencv":
        import cv2
        rf = cv2.ml.RTrees_create()
        rf.setMaxDepth(RTREES["max_depth"])
        rf.setMinSampleCount(RTREES["min_sample_count"])
        rf.setRegressionAccuracy(RTREES["regression_accuracy"])
        rf.setMaxCategories(RTREES["max_categories"])
        rf.setTermCriteria((cv2.TERM_CRITERIA_MAX_ITER, RTREES["trees"], 0.01))
        rf.train(X, cv2.ml.ROW_SAMPLE, y.reshape(-1, 1))
        rf.save(os.path.join(workdir, f"forest-{shard}-{task}.yml"))
    else:
        from sklearn.ensemble import RandomForestClassifier
        params = {} if sklearn_defaults else dict(max_depth=RTREES["max_depth"],
                                                  min_samples_split=RTREES["min_sample_count"])
        rf = RandomForestClassifier(n_estimators=RTREES["trees"], n_jobs=1,
                                    random_state=seed * 1000 + shard * 100 + task, **params)
        rf.fit(X, y)
        with open(os.path.join(workdir, f"forest-{shard}-{task}.pkl"), "wb") as f:
            pickle.dump(rf, f)
    return shard, task


def forest_votes(engine, shard, task, test, workdir, classes):
    """Per-class votes of one forest on the test rows projected by its shard's PCA."""
    with open(os.path.join(workdir, f"pca-{shard}.pkl"), "rb") as f:
        pca = pickle.load(f)
    votes = np.zeros((test.shape[0], classes), dtype=np.float64)
    if engine == "opencv":
        import cv2
        Z = cv2.PCAProject(test, pca["mean"], pca["vectors"])
        rf = cv2.ml.RTrees_load(os.path.join(workdir, f"forest-{shard}-{task}.yml"))
        raw = rf.getVotes(Z, 0)
        for col, cls in enumerate(raw[0]):
            votes[:, int(cls)] += raw[1:, col]
    else:
        Z = pca.transform(test).astype(np.float32)
        with open(os.path.join(workdir, f"forest-{shard}-{task}.pkl"), "rb") as f:
            rf = pickle.load(f)
        votes[:, rf.classes_] += rf.predict_proba(Z) * len(rf.estimators_)
    return votes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train_dir", help="ImageFolder of PNGs, or an IDX image file")
    ap.add_argument("test_dir", help="ImageFolder of PNGs, or an IDX image file")
    ap.add_argument("--train-labels", help="IDX label file for an IDX train_dir")
    ap.add_argument("--test-labels", help="IDX label file for an IDX test_dir")
    ap.add_argument("--engine", choices=["opencv", "sklearn"], default="opencv")
    ap.add_argument("--shards", type=int, default=2, help="PCA functions (default 2)")
    ap.add_argument("--tasks", type=int, default=8, help="tree tasks in all (default 8)")
    ap.add_argument("--size", type=int, default=64, help="resize to SIZExSIZE (default 64, as the original)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sklearn-defaults", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="keep the intermediate files in DIR")
    args = ap.parse_args()
    if args.tasks % args.shards:
        ap.error("--tasks must be a multiple of --shards (each PCA function feeds tasks/shards)")
    per_shard = args.tasks // args.shards

    start = time.perf_counter()
    stages = {}
    workdir = args.keep or tempfile.mkdtemp(prefix="original-workflow-")
    os.makedirs(workdir, exist_ok=True)
    # Import the engine before the workers fork, so they inherit it instead of
    # each paying the import (the cheaper choice for the peer).
    import cv2  # noqa: F401
    if args.engine == "sklearn":
        import sklearn.decomposition  # noqa: F401
        import sklearn.ensemble  # noqa: F401
    pool = ProcessPoolExecutor(max_workers=args.jobs, initializer=_init_worker,
                               initargs=(1 if args.jobs > 1 else 0,))
    try:
        t = time.perf_counter()
        shards, train_count = partition(args.train_dir, args.train_labels, args.seed, args.shards)
        stages["partition_s"] = time.perf_counter() - t

        t = time.perf_counter()
        list(pool.map(pca_stage, range(args.shards), shards, [per_shard] * args.shards,
                      [args.size] * args.shards, [args.engine] * args.shards,
                      [workdir] * args.shards))
        stages["pca_s"] = time.perf_counter() - t

        t = time.perf_counter()
        jobs = [(s, k) for s in range(args.shards) for k in range(per_shard)]
        list(pool.map(rf_stage, [j[0] for j in jobs], [j[1] for j in jobs],
                      [args.engine] * len(jobs), [args.seed] * len(jobs),
                      [args.sklearn_defaults] * len(jobs), [workdir] * len(jobs)))
        stages["rf_s"] = time.perf_counter() - t

        t = time.perf_counter()
        if os.path.isdir(args.test_dir):
            test, truth = load_images(list_images(args.test_dir), args.size)
        else:
            if not args.test_labels:
                raise SystemExit(f"{args.test_dir}: an IDX image file needs --test-labels")
            n = len(read_idx(args.test_labels))
            test, truth = load_spec(("idx", args.test_dir, args.test_labels, np.arange(n)), args.size)
        classes = int(max(truth.max(), 9)) + 1
        votes = np.zeros((test.shape[0], classes))
        for v in pool.map(forest_votes, [args.engine] * len(jobs), [j[0] for j in jobs],
                          [j[1] for j in jobs], [test] * len(jobs), [workdir] * len(jobs),
                          [classes] * len(jobs)):
            votes += v
        accuracy = float(np.mean(np.argmax(votes, axis=1) == truth))
        stages["validate_s"] = time.perf_counter() - t
    finally:
        pool.shutdown()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(peer=f"original-workflow-{args.engine}", opencv=cv2.__version__,
           train_images=train_count, test_images=int(test.shape[0]), size=args.size,
           shards=args.shards, forests=len(jobs), trees=len(jobs) * RTREES["trees"],
           rows_per_forest=train_count // args.tasks, jobs=args.jobs,
           rf_params="sklearn-defaults" if args.sklearn_defaults and args.engine == "sklearn"
           else "opencv-original", **stages, wall_s=time.perf_counter() - start,
           accuracy=accuracy)


if __name__ == "__main__":
    main()
