#!/usr/bin/env bash
# Three seeds of BC, Filtered BC, ILQL-full and ILQL-sparse on the default synthetic world (k = 1).
# Per seed, the BC run's student is the starting point of the three others (the paper's recipe, with the
# BC stage trained once instead of once per algorithm).
#   bash experiments/synthetic_algorithms/run.sh [OUT_DIR] [SEEDS...]
set -euo pipefail
out=${1:-outputs/multirun/synthetic_algorithms}
shift || true
seeds=${*:-0 1 2}
for seed in $seeds; do
  bc=$out/bc/seed$seed
  [ -f "$bc/results.json" ] || python -m distill.train +experiment=synthetic_bc seed=$seed logger=csv hydra.run.dir=$bc
  for name in fbc ilql_full ilql_sparse; do
    run=$out/$name/seed$seed
    extra=""
    [ $name = fbc ] || extra="algorithm.eval_betas=[0.0,1.0,4.0,16.0]"
    [ -f "$run/results.json" ] || python -m distill.train +experiment=synthetic_$name seed=$seed logger=csv \
      algorithm.init_from=$bc hydra.run.dir=$run $extra
  done
done
