#!/usr/bin/env bash
# The book on a SLURM cluster: one array task per run page (`siakit book --only NAME`, no build), then
# one job that executes the chapters and builds the book once (`--only CHAPTERS`, `--build-only`).
#
#   RUNS=runs/paper.yml scripts/slurm_book.sh submit   # sbatch the array, then the finishing job after it
#   scripts/slurm_book.sh                              # in array task i: run page i of `--list-runs`
#   scripts/slurm_book.sh finish                       # the chapters (cross-run ones last), then the build
#
# Variables: RUNS (runs file, default runs/default.yml); PYTHON (default python: the one with siakit);
# SBATCH_ARGS (extra sbatch options: partition, account, ...); DRY_RUN=1 prints each command instead of
# running it (this is how tests/test_book_parallel.py checks the script, without SLURM). Inside an
# allocation the page runs under `srun`; without srun on PATH it runs directly.
# Every task writes only its own page, done marker and log under book/generated/ (on a shared file
# system), and the results store of its own run, so tasks never write one file.
#SBATCH --job-name=siakit-book
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=slurm-siakit-%A_%a.out
set -euo pipefail

RUNS=${RUNS:-runs/default.yml}
PYTHON=${PYTHON:-python}
SIAKIT=("$PYTHON" -m siakit)

run() {  # a command, or with DRY_RUN=1 its text
  if [ "${DRY_RUN:-0}" = 1 ]; then echo "$*"; else "$@"; fi
}
launch() {  # a job step under srun where SLURM provides it
  if command -v srun >/dev/null 2>&1; then run srun "$@"; else run "$@"; fi
}

mode=${1:-task}
case "$mode" in
  submit)
    n=$("${SIAKIT[@]}" book --runs "$RUNS" --list-runs | wc -l)
    if [ "${DRY_RUN:-0}" = 1 ]; then
      run sbatch --parsable --array="0-$((n - 1))" ${SBATCH_ARGS:-} --export="ALL,RUNS=$RUNS" "$0"
      array=ARRAY_JOB_ID
    else
      array=$(sbatch --parsable --array="0-$((n - 1))" ${SBATCH_ARGS:-} --export="ALL,RUNS=$RUNS" "$0")
    fi
    # afterany: the book is built even when some pages failed (their pages show the error)
    run sbatch --dependency="afterany:${array%%;*}" ${SBATCH_ARGS:-} --export="ALL,RUNS=$RUNS" "$0" finish
    ;;
  task)
    if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
      echo "slurm_book.sh: SLURM_ARRAY_TASK_ID is not set; use 'submit' (or 'finish')" >&2
      exit 2
    fi
    listed=$("${SIAKIT[@]}" book --runs "$RUNS" --list-runs)  # set -e: a bad runs file stops here
    mapfile -t names <<< "$listed"
    if (( SLURM_ARRAY_TASK_ID >= ${#names[@]} )); then
      echo "slurm_book.sh: task $SLURM_ARRAY_TASK_ID, but $RUNS lists ${#names[@]} runs" >&2
      exit 2
    fi
    launch "${SIAKIT[@]}" book --runs "$RUNS" --only "${names[$SLURM_ARRAY_TASK_ID]}"
    ;;
  finish)
    listed=$("${SIAKIT[@]}" book --runs "$RUNS" --list-chapters)
    mapfile -t chapters <<< "$listed"
    # a failed chapter still lets the book be built: its page shows the error
    launch "${SIAKIT[@]}" book --runs "$RUNS" --only "${chapters[@]}" || true
    run "${SIAKIT[@]}" book --runs "$RUNS" --build-only
    ;;
  *)
    echo "usage: slurm_book.sh [submit|task|finish]" >&2
    exit 2
    ;;
esac
