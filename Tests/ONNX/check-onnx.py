"""Checks exported ONNX models against rf-predict's outputs with onnxruntime.

Usage: check-onnx.py DIR   (the files test-onnx.bash wrote; see there)

Every model must pass onnx.checker.check_model; every forest model must give rf-predict's
label on every row (exactly) and its probabilities within 1e-5; the pipeline models fed raw
pixels must give the labels of `pca-project | rf-predict`. Prints one line per check and a
closing `N passed, N failed` line; exits 1 on any failure.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-5


def main(folder):
    def load(name):
        return np.load(os.path.join(folder, name))

    results = []

    def check(name, ok, detail):
        results.append(ok)
        print(f"check-onnx: {'ok' if ok else 'FAIL'}: {name}: {detail}", flush=True)

    sessions = {}

    def run(model_name, x):
        if model_name not in sessions:
            path = os.path.join(folder, model_name)
            onnx.checker.check_model(path, full_check=True)
            sessions[model_name] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            names = [o.name for o in sessions[model_name].get_outputs()]
            if names != ["label", "probabilities"]:
                raise SystemExit(f"check-onnx: {model_name}: outputs {names}, expected label, probabilities")
        session = sessions[model_name]
        label, proba = session.run(None, {session.get_inputs()[0].name: x})
        return label, proba

    pixels = load("test-pixels.npy")  # uint8, rows x 784
    components = load("test-pca.npy")  # float32, pca-project's output
    cases = [
        ("forest-pca.onnx", components, "pca"),
        ("forest-raw.onnx", pixels, "raw"),
        ("forest-raw-f32.onnx", pixels.astype(np.float32), "raw"),
        ("forest-two.onnx", load("test-two.npy"), "two"),
    ]
    for model_name, x, which in cases:
        expected_label = load(f"pred-{which}.npy").reshape(-1)
        expected_proba = load(f"proba-{which}.npy")
        label, proba = run(model_name, x)
        same = int((label == expected_label).sum())
        check(f"{model_name} labels", same == len(expected_label) and label.dtype == np.int64,
              f"{same} of {len(expected_label)} rows equal rf-predict's ({label.dtype})")
        worst = float(np.abs(proba - expected_proba).max())
        identical = int((proba == expected_proba).all(axis=1).sum())
        check(f"{model_name} probabilities", proba.shape == expected_proba.shape and worst <= TOLERANCE,
              f"max |difference| {worst:.3g} (tolerance {TOLERANCE}); {identical} of {len(proba)} rows bit-identical")

    expected_label = load("pred-pca.npy").reshape(-1)
    for model_name, x in [("pipeline.onnx", pixels), ("pipeline-f32.onnx", pixels.astype(np.float32)),
                          ("pipeline-f64.onnx", pixels.astype(np.float64))]:
        label, proba = run(model_name, x)
        same = int((label == expected_label).sum())
        check(f"{model_name} labels (raw pixels in)", same == len(expected_label),
              f"{same} of {len(expected_label)} rows equal pca-project | rf-predict's")
        worst = float(np.abs(proba - load("proba-pca.npy")).max())
        check(f"{model_name} probabilities", worst <= TOLERANCE, f"max |difference| {worst:.3g}")

    # Small batches take onnxruntime's other paths (one row; up to its row-parallel threshold):
    # the sums must still be rf-predict's, bit for bit, on the first 200 rows.
    expected_proba = load("proba-pca.npy")
    for batch in (1, 10):
        differing = 0
        for start in range(0, 200, batch):
            label, proba = run("pipeline.onnx", pixels[start:start + batch])
            differing += int(((proba != expected_proba[start:start + batch]).any(axis=1)
                              | (label != expected_label[start:start + batch])).sum())
        check(f"pipeline.onnx in batches of {batch}", differing == 0,
              f"{differing} of 200 rows differ from rf-predict in label or any probability bit")

    failed = results.count(False)
    print(f"check-onnx: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
