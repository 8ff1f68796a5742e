# The podman runner (RUNNER=podman): every Grove tool a task calls runs in its image,
# grove/TOOL (`make images`), as `podman run --rm -i` with no network, a read-only root
# filesystem, and the caller's uid/gid, so files come out owned as `make run`'s do. The rest of
# a recipe (bash, cat, grep, redirections) runs here, so pipelines inside `bash -c` stream
# between containers as they do between processes.
#
# Paths work unchanged inside: the working folder is mounted read-only at its own path, the
# folders of the task's outputs (STAGE_OUTPUTS) read-write at theirs, and any input or argument
# that names an existing path outside the working folder read-only at its own path.
# GROVE_IMAGE_PREFIX (default grove/) and GROVE_PODMAN_FLAGS (extra `podman run` flags) adjust it.
STAGE_WHERE=podman

run_task() {
  shift
  "$@"
}

_grove_podman() {
  local tool=$1 here=$PWD p d m
  shift
  local -a flags=(--rm -i --pull=never --network=none --read-only --log-driver=none
    --user "$UID:${GROUPS[0]}" -w "$here" -v "$here:$here:ro")
  local -a rw=() ro=()
  for p in $STAGE_OUTPUTS; do
    d=${p%/*}
    [ "$d" != "$p" ] || d=.
    _grove_abs "$d"
    case " ${rw[*]} " in *" $REPLY "*) ;; *) rw+=("$REPLY") ;; esac
  done
  # Arguments first: a dataset folder given as one covers the files listed as its inputs.
  for p in "$@" $STAGE_INPUTS; do
    case $p in -*|'') continue ;; esac
    [ -e "$p" ] || continue
    _grove_abs "$p"; ro+=("$REPLY")
  done
  local -a mounted=("$here")
  for p in "${rw[@]}" "${ro[@]}"; do
    for m in "${mounted[@]}"; do
      case $p/ in "$m"/*) continue 2 ;; esac
    done
    mounted+=("$p")
  done
  for p in "${rw[@]}"; do
    [ "$p" = "$here" ] || flags+=(-v "$p:$p")
  done
  for p in "${mounted[@]:1}"; do
    case " ${rw[*]} " in *" $p "*) ;; *) flags+=(-v "$p:$p:ro") ;; esac
  done
  podman run "${flags[@]}" $GROVE_PODMAN_FLAGS "${GROVE_IMAGE_PREFIX:-grove/}$tool" "$@"
}

# _grove_abs PATH: REPLY=PATH made absolute, a trailing "/" or "/." dropped (no process started:
# a decode task lists thousands of PNG inputs).
_grove_abs() {
  REPLY=$1
  case $REPLY in /*) ;; *) REPLY=$PWD/$REPLY ;; esac
  REPLY=${REPLY%/}; REPLY=${REPLY%/.}
  REPLY=${REPLY:-/}
}

# GROVE_TOOLS (exported by mk/containers.mk from Package.swift) names the tools.
for _grove_tool in ${GROVE_TOOLS:-zmat mnist-decode pca-fit pca-project rf-tree rf-merge rf-predict rf-eval}; do
  eval "$_grove_tool() { _grove_podman $_grove_tool \"\$@\"; }"
done
unset _grove_tool
