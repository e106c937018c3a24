#!/usr/bin/env bash
# Regenerate every committed report from the committed runs (distill.report and the studies' map or table
# scripts); `git diff --stat experiments` afterwards shows what changed. No training: seconds to minutes.
#   bash experiments/reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
report() {  # report OUT NAME RUN_FOLDER...
    local out=$1 name=$2; shift 2
    $PY -m distill.report "$@" --name "$name" --out "$out" --no-wandb > /dev/null
}
E=experiments
report $E/algorithms_v1/report synthetic_algorithms $E/algorithms_v1/runs
report $E/cascade_v1/report cascade $E/cascade_v1/runs
report $E/cascade_v2/report cascade_v2 $E/cascade_v2/runs
for cond in queue random none; do
    report $E/human_review_v1/report/$cond "human_review_$cond" $E/human_review_v1/runs/${cond}_seed{0,1,2}
done
report $E/offline_v1/report offline_rl $E/offline_v1/runs
report $E/offline_v2/report offline_v2 $E/offline_v2/runs
report $E/online_rl/report_v2k2 online_rl_v2k2 $E/online_rl/runs/v2k2_grpo_seed* $E/online_rl/runs/v2k2_dpo_seed*
report $E/online_rl/report_v2k2_no_cost online_rl_v2k2_no_cost $E/online_rl/runs/v2k2_grpo_no_cost_seed*
report $E/online_rl/report_v2k2_drop_solved_alone online_rl_v2k2_drop_solved_alone \
    $E/online_rl/runs/v2k2_grpo_drop_solved_alone_seed*
report $E/recipes_v1/report recipes $E/recipes_v1/runs
report $E/size_grid_v1/report synthetic_gap $E/size_grid_v1/runs
report $E/size_grid_v2/report size_grid $E/size_grid_v2/runs
[ -d $E/calibration/runs ] && $PY $E/calibration/map.py > /dev/null
git diff --stat -- $E | tail -n 1
