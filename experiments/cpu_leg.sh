#!/usr/bin/env bash
# Start one CPU campaign leg in the background, from a `git archive` snapshot of a commit, so that edits to
# the working tree never reach a running leg. One thread, CPU-clock budget (core-seconds, fair on a shared
# machine), a checkpoint every few minutes, resumable: the same command again continues the leg.
#
#   NAME=campaign18 STREAM=user_mix SEED=18 FROM=experiments/results/campaign17_ghn BUDGET=2.5h \
#       DATA=/path/cifar10_jpeg.npz ARCH_START=200000 bash experiments/cpu_leg.sh [COMMIT]
#
# It prints the leg's pid, its log and the command that records it when it is over:
#   python experiments/finish_run.py SNAP/runs/NAME --name NAME --val-nets 20 --results experiments/results
# Stop a leg early with SIGINT or SIGTERM: it saves a checkpoint and its export first.
set -eu
COMMIT=${1:-HEAD}
NAME=${NAME:?NAME=campaignN}
STREAM=${STREAM:-user_mix}
SEED=${SEED:?SEED=N}
FROM=${FROM:-cifar10}
BUDGET=${BUDGET:-2h}
DATA=${DATA:-${GRAPHPARAM_DATA:?DATA=path of CIFAR-10}}
ARCH_START=${ARCH_START:-0}
LEGS=${LEGS:-$(cd "$(git rev-parse --show-toplevel)/.." && pwd)/legs}
EXTRA=${EXTRA:-}

HASH=$(git rev-parse --short "$COMMIT")
SNAP="$LEGS/snap_$HASH"
if [ ! -d "$SNAP" ]; then
    mkdir -p "$SNAP"
    git archive "$COMMIT" | tar -x -C "$SNAP"
fi
case "$FROM" in /*|cifar10) ;; *) FROM="$(pwd)/$FROM" ;; esac   # the leg runs inside the snapshot
case "$DATA" in /*) ;; *) DATA="$(pwd)/$DATA" ;; esac
mkdir -p "$SNAP/runs"
cd "$SNAP"
CMD="python -m graphparam.train --init-from $FROM --seed $SEED --warmup-steps 50 --stream $STREAM --clock cpu \
--time-budget $BUDGET -M 8 -b 64 --eval-every 0 --threads 1 --data $DATA --out runs/$NAME --checkpoint-minutes 5 \
--export runs/$NAME/export --arch-start $ARCH_START $EXTRA"
# shellcheck disable=SC2086
PYTHONPATH="$SNAP" OMP_NUM_THREADS=1 nohup $CMD > "runs/$NAME.log" 2>&1 &
echo "leg $NAME: pid $! from $HASH in $SNAP"
echo "  log:    $SNAP/runs/$NAME.log"
echo "  run:    $CMD"
echo "  finish: python experiments/finish_run.py $SNAP/runs/$NAME --name $NAME --val-nets 20 --command \"$CMD (git archive of $HASH)\""
