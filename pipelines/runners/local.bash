# The local runner: a task is its command, run here as it is.
run_task() {
  shift
  "$@"
}
