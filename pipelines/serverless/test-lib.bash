# Sourced by the stage test scripts (`source test-lib.bash NAME`): the checkout as the working
# folder, the built tools first in PATH, a private folder $work (/tmp/grove-NAME.XXXXXX), $pids
# for servers to stop, and `check NAME COMMAND...`, which counts passes and failures.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH=${BIN:-$root/.build/release}:$PATH
work=$(mktemp -d "/tmp/grove-$1.XXXXXX")
pids=()
pass=0 fail=0
check() {  # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name" >&2; fi
}
