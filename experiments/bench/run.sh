#!/usr/bin/env bash
# Every benchmark of distill.bench, alone on the machine (about 15 minutes on two cores); the rows land in
# outputs/bench/<time>/bench.json, each with the machine it ran on. Copy a file here as
# <benchmark>_<date>_<commit>.json and cite it (README.md of this folder lists every file).
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m distill.bench "$@"
