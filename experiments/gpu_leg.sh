#!/usr/bin/env bash
# One time-boxed GPU session for the issue "Train and ship a GHN far above chance": a training leg from the
# shipped GHN, then the full-protocol zero-shot table of whichever GHN validates better, all inside one
# device call (the lent machine is paid for by the minute, so nothing waits on a person in between).
#
#   OUT=runs/gpu_out DATA=data/cifar10_jpeg.npz TRAIN_BUDGET=6m DEADLINE=565 bash experiments/gpu_leg.sh
#
# (carry data/ in the device call; experiments/results/gpu_leg.md has what the first lent H200 measured with it)
#
# Phases (each one's failure leaves the next to run; everything it wrote lands in $OUT):
#   1. the shipped GHN validated on this device (the trainer's Validator, the run's 20 val nets), so the
#      new GHN is compared with it under the same arithmetic;
#   2. meta-training from it (--init-from cifar10) for TRAIN_BUDGET, nets built by --arch-workers;
#   3. experiments/zero_shot_table.py --only ghn/default_init into the per-net cache, for the better of the two
#      GHNs, until DEADLINE seconds after the start (the table itself is written afterwards, from the cache,
#      on any machine).
set -u
OUT=${OUT:-runs/gpu_out}
DATA=${DATA:-data/cifar10_jpeg.npz}
TRAIN_BUDGET=${TRAIN_BUDGET:-6m}
DEADLINE=${DEADLINE:-570}
WORKERS=${WORKERS:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}
RUN=${RUN:-runs/gpu_leg}
TRAIN_FLAGS=${TRAIN_FLAGS:---arch-start 50000 --seed 5 -M 8 -b 256 --threads 2}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" GRAPHPARAM_DATA="$DATA"
mkdir -p "$OUT" "$(dirname "$RUN")"
SECONDS=0
log() { echo "[gpu_leg ${SECONDS}s] $*" | tee -a "$OUT/gpu_leg.log"; }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.cuda.get_device_name() if torch.cuda.is_available() else None, 'cpus', __import__('os').cpu_count())"
} 2>&1 | tee -a "$OUT/gpu_leg.log"

log "phase 1: the shipped GHN on this device's validation"
$PY - "$OUT/shipped_val.json" <<'EOF' 2>&1 | tee -a "$OUT/gpu_leg.log"
import json, sys
import torch
from graphparam.model import GHN
from graphparam.train.data import training_images
from graphparam.train.distributed import resolve_device
from graphparam.train.validate import Validator, describe_val
device = resolve_device("auto")
_, held = training_images(None, 1000)
val = Validator(held, 20, device, amp=False)(GHN.from_pretrained("cifar10", device=device))
print(describe_val(0, val))
json.dump({"ghn": "cifar10", "device": str(device), **val}, open(sys.argv[1], "w"))
EOF

log "phase 2: training $TRAIN_BUDGET with $WORKERS build workers"
rm -rf "$RUN"
# shellcheck disable=SC2086
$PY -m graphparam.train --init-from cifar10 $TRAIN_FLAGS --no-amp --arch-workers "$WORKERS" \
    --time-budget "$TRAIN_BUDGET" --eval-every 400 --val-nets 20 --out "$RUN" --checkpoint-minutes 1 \
    2>&1 | tr '\r' '\n' | grep -v "^\s*$" | tail -n 30 | tee -a "$OUT/gpu_leg.log"
cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl" 2>/dev/null
grep '"kind": "val"' "$RUN/metrics.jsonl" 2>/dev/null | cut -c1-160 | tee -a "$OUT/gpu_leg.log"
mkdir -p "$OUT/ghn" && cp "$RUN/ghn/"* "$OUT/ghn/" 2>/dev/null

GHN=$($PY - "$RUN/metrics.jsonl" "$OUT/shipped_val.json" <<'EOF'
import json, sys
from graphparam.train.metrics import read_metrics
try:
    new = read_metrics(sys.argv[1], "val")[-1]["top1"]
    old = json.load(open(sys.argv[2]))["top1"]
    print("new" if new > old + 0.005 else "cifar10")
except Exception:
    print("cifar10")
EOF
)
[ "$GHN" = new ] && GHN="$RUN/ghn"
log "phase 3: zero-shot table of $GHN until ${DEADLINE}s"
cp experiments/results/zero_shot_nets.jsonl "$OUT/zero_shot_nets.jsonl"  # the committed cache, grown in $OUT
table() {
    local left=$(( DEADLINE - SECONDS ))
    [ "$left" -gt 20 ] || return 1
    timeout --signal=INT "$left" $PY experiments/zero_shot_table.py --ghn "$GHN" --data "$DATA" \
        --cache "$OUT/zero_shot_nets.jsonl" "$@" 2>&1 \
        | grep -v "^\s*$" | tail -n 20 | tee -a "$OUT/gpu_leg.log"
}
table --splits test real wide deep dense bnfree --nets test=100 --max-nets 10 --real resnet50 vit_tiny vit_small \
    --out "$RUN/zero_shot" \
  && table --splits test --nets test=200 --out "$RUN/zero_shot_200" \
  && table --splits wide deep dense bnfree --max-nets 20 --out "$RUN/zero_shot_20"
log "done: GHN evaluated $GHN"
