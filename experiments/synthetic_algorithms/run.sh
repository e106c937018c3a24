#!/usr/bin/env bash
# BC, Filtered BC, ILQL-full and ILQL-sparse on the default synthetic world, per student size, answerer
# strength k and seed. Each BC run's student is the starting point of the other algorithms with the same
# size, k and seed (the paper's recipe, with the BC stage trained once instead of once per algorithm).
# Finished runs (results.json present) are skipped, so the script resumes.
#   [STUDENTS="tiny small medium"] [KS="1 2"] [ALGORITHMS="fbc ilql_full ilql_sparse"] \
#   bash experiments/synthetic_algorithms/run.sh [OUT_DIR] [SEEDS...]
set -euo pipefail
out=${1:-outputs/multirun/synthetic_algorithms}
shift || true
seeds=${*:-0 1 2}
for student in ${STUDENTS:-small}; do
  for k in ${KS:-1}; do
    for seed in $seeds; do
      tag=${student}_k${k}_seed$seed
      common="student=$student answerer.k=$k seed=$seed logger=csv"
      bc=$out/bc/$tag
      [ -f "$bc/results.json" ] || python -m distill.train +experiment=synthetic_bc $common hydra.run.dir=$bc
      for name in ${ALGORITHMS:-fbc ilql_full ilql_sparse}; do
        run=$out/$name/$tag
        extra=""
        [ $name = fbc ] || extra="algorithm.eval_betas=[0.0,1.0,4.0,16.0]"
        [ -f "$run/results.json" ] || python -m distill.train +experiment=synthetic_$name $common \
          algorithm.init_from=$bc hydra.run.dir=$run $extra
      done
    done
  done
done
