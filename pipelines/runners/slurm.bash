# The Slurm runner. `make run RUNNER=slurm` hands the whole DAG to pipelines/slurm/submit, which
# submits the due tasks as dependent jobs; inside a job a task runs here, on its node (the job
# script sets STAGE_WHERE to the node's name). Outside a job (`make dag RUNNER=slurm`: make
# schedules), each task is one `srun` step of its own.
run_task() {
  shift
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    "$@"
  else
    srun --quiet --job-name="grove" --ntasks=1 --chdir="$PWD" --export=ALL bash -eo pipefail -c '"$@"' task "$@"
  fi
}
