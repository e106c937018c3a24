#!/usr/bin/env bash
# The main job (Filtered BC, small student) on a world, with and without the AI judge's votes read per sub-question
# (algorithm.min_question_usefulness=0.34: a right record is kept only where two of three judge votes call each of
# its sub-questions useful), per seed. No labels. Results: runs/<world>_<plain|judge>_seed<N>/results.json.
# Resumable: a run whose results.json is committed is skipped (skip_done).
#   WORLDS="v2" SEEDS="0 1 2" bash experiments/judge_filter/run.sh; python experiments/judge_filter/table.py
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=experiments/judge_filter
mkdir -p outputs
for world in ${WORLDS:-v2}; do
    for seed in ${SEEDS:-0}; do
        for variant in plain judge; do
            extra=""; [ "$variant" = judge ] && extra=algorithm.min_question_usefulness=0.34
            # shellcheck disable=SC2086
            python -m distill.train world=$world seed=$seed threads=1 logger=csv skip_done=true \
                hydra.run.dir=$HERE/runs/${world}_${variant}_seed$seed $extra \
                > outputs/judge_filter_${world}_${variant}_seed$seed.log 2>&1
        done
    done
done
