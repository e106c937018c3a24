#!/usr/bin/env bash
# Human review on the synthetic world: DPO from its Filtered BC stage (+experiment=synthetic_dpo, the main job on world v1) trained on
# one teacher run with 200 oracle labels chosen by the review queue, 200 chosen at random, and none; 3 seeds.
# Resumable: a condition whose results.json is committed below runs/ is skipped.
#   bash experiments/human_review_v1/run.sh [PARALLEL=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
# world v1, as the committed results (docs/synthetic_world.md); WORLD="" for the default world
WORLD=${WORLD-world=v1}
OUT=${DISTILL_OUTPUT_DIR:-outputs}/human_review
PARALLEL=${1:-2}

# one teacher run (the synthetic teacher's seed is fixed, so every training seed sees the same records)
[ -f "$OUT/teacher_run/records.jsonl" ] || $PY -m distill.generate $WORLD hydra.run.dir="$OUT/teacher_run"

condition() {  # condition seed
  local cond=$1 seed=$2 name="${1}_seed${2}" dir="$OUT/${1}_seed${2}"
  local keep="experiments/human_review_v1/runs/$name"
  [ -f "$keep/results.json" ] && { echo "skip $name"; return; }
  mkdir -p "$dir" "$keep"
  local reward=full
  if [ "$cond" != none ]; then
    local strategy=uniform; [ "$cond" = queue ] && strategy=strata  # (the queue's strata; a uniform sample)
    [ -f "$dir/records.jsonl" ] || cp "$OUT/teacher_run/records.jsonl" "$dir/records.jsonl"
    [ -f "$dir/review.sqlite" ] || $PY -m distill.review simulate "$dir" --n 200 --strategy "$strategy" --seed "$seed" $WORLD \
        > "$dir/simulate.log"
    $PY -m distill.review stats "$dir/records.jsonl" > "$dir/stats.log"
    cp "$dir/review_stats.json" "$keep/review_stats.json"
    reward=human
  else
    [ -f "$dir/records.jsonl" ] || cp "$OUT/teacher_run/records.jsonl" "$dir/records.jsonl"
  fi
  $PY -m distill.train $WORLD +experiment=synthetic_dpo data.records_path="$dir/records.jsonl" reward=$reward seed="$seed" threads=1 '~logger' \
      skip_done=true stage_cache="$OUT/stages" hydra.run.dir="$dir/run" > "$dir/train.log" 2>&1
  cp "$dir/run/results.json" "$keep/results.json"
  echo "done $name"
}

jobs_list=()
for seed in 0 1 2; do for cond in queue random none; do jobs_list+=("$cond $seed"); done; done
for job in "${jobs_list[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do sleep 5; done
  condition $job &
done
wait

# one report per condition (mean over seeds with 95% t-intervals): report/<condition>/report.md
for cond in queue random none; do
  $PY -m distill.report experiments/human_review_v1/runs/${cond}_seed{0,1,2} --name "human_review_$cond" \
      --out "experiments/human_review_v1/report/$cond" --no-wandb > /dev/null
done
