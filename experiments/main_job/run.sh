#!/usr/bin/env bash
# The main job as a new user runs it, alone on the machine, from empty folders: its printed summary (quoted verbatim
# in the README) into summary_<world>.txt, its results.json under runs/. Then the world switch against the older
# two-override form on world v1's DPO job: both runs must write the same eval_records.jsonl, byte for byte.
# Resumable: a run whose results.json exists is skipped (skip_done); the summary is printed again from it.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=experiments/main_job
export DISTILL_OUTPUT_DIR=${DISTILL_OUTPUT_DIR:-$(mktemp -d)}   # a fresh stage cache: the job trains from nothing
start=$(date +%s)
export WANDB_MODE=${WANDB_MODE:-offline}
python -m distill.train skip_done=true hydra.run.dir=$HERE/runs/v2_seed0 | tee $HERE/summary_v2.txt
echo "wall: $(( $(date +%s) - start )) s (from a fresh output folder)" | tee -a $HERE/summary_v2.txt
python -m distill.train world=v1 +experiment=synthetic_dpo logger=none skip_done=true \
    hydra.run.dir=$HERE/runs/v1_dpo_world_switch > $HERE/summary_v1_dpo_world_switch.txt
python -m distill.train dataset=synthetic_v1 teacher=synthetic_v1 +experiment=synthetic_dpo logger=none skip_done=true \
    hydra.run.dir=$HERE/runs/v1_dpo_two_overrides > $HERE/summary_v1_dpo_two_overrides.txt
if cmp $HERE/runs/v1_dpo_world_switch/eval_records.jsonl $HERE/runs/v1_dpo_two_overrides/eval_records.jsonl; then
    echo "world=v1 and dataset=synthetic_v1 teacher=synthetic_v1: the same eval_records.jsonl, byte for byte"
fi
grep -h "^student " $HERE/summary_v1_dpo_*.txt
