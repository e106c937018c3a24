#!/usr/bin/env bash
# What a person's label is worth (world window1, the ladder level standing in for the calibrated world; k = 1
# answerer that errs): the main job's objective (Filtered BC, small student) trained on one teacher run per seed,
# relabelled by the oracle reviewer (python -m distill.review simulate) on BUDGET records chosen by each STRATEGY,
# and by re-asking the answerer 4 times (python -m distill.review reask, strategy "ask": a uniform choice of
# records, majority of 5 draws). Budget 0 (no labels) and all (every record, by a person or by re-asking) are one
# run per seed. `judge_0`: no labels, the AI judge's votes as the filter instead (Filtered BC keeps a right record
# only where two of the three judge votes call each sub-question useful: algorithm.min_question_usefulness=0.34).
# Results: runs/<strategy>_<budget>_seed<N>/{results.json,labels.json}; then table.py writes budget.csv and
# budget.png. Resumable: a run whose results.json is committed is skipped.
#   SEEDS="0 1 2" BUDGETS="0 100 400 800 all" STRATEGIES="uniform disputed unstable" bash experiments/label_budget_window1/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python}
HERE=experiments/label_budget_window1
WORLD=world=window1
OUT=${DISTILL_OUTPUT_DIR:-outputs}/label_budget
mkdir -p "$OUT"
label_and_train() {  # label_and_train SEED NAME TRAIN_OVERRIDE [labelling command args...]
    local seed=$1 name=$2 train_override=$3; shift 3
    local dir=$OUT/${name}_seed$seed keep=$HERE/runs/${name}_seed$seed
    [ -f "$keep/results.json" ] && { echo "skip ${name}_seed$seed"; return; }
    mkdir -p "$dir" "$keep"
    rm -f "$dir/review.sqlite" && cp "$OUT/teacher_seed$seed/records.jsonl" "$dir/records.jsonl"
    if [ $# -gt 0 ]; then
        $PY -m distill.review "$1" "$dir" "${@:2}" --summary "$keep/labels.json" $WORLD seed=$seed > "$dir/labels.log"
    fi
    $PY -m distill.train $WORLD seed=$seed threads=1 logger=csv skip_done=true data.records_path="$dir/records.jsonl" \
        hydra.run.dir="$keep" $train_override > "$dir/train.log" 2>&1
}
for seed in ${SEEDS:-0}; do
    [ -f "$OUT/teacher_seed$seed/records.jsonl" ] || \
        $PY -m distill.generate $WORLD seed=$seed hydra.run.dir="$OUT/teacher_seed$seed" > /dev/null
    all=$(wc -l < "$OUT/teacher_seed$seed/records.jsonl")
    for budget in ${BUDGETS:-0 100 400 800 all}; do
        if [ "$budget" = 0 ]; then
            label_and_train "$seed" none_0 ""
            label_and_train "$seed" judge_0 algorithm.min_question_usefulness=0.34
            continue
        fi
        if [ "$budget" = all ]; then
            label_and_train "$seed" person_all "" simulate --n "$all" --strategy uniform
            label_and_train "$seed" ask_all "" reask --n "$all" --strategy uniform
            continue
        fi
        for strategy in ${STRATEGIES:-uniform disputed unstable}; do
            label_and_train "$seed" "${strategy}_$budget" "" simulate --n "$budget" --strategy "$strategy"
        done
        label_and_train "$seed" "ask_$budget" "" reask --n "$budget" --strategy uniform
    done
done
