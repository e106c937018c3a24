"""Seconds for 20 steps of our GRPO alone (the `rl` benchmark's settings, one thread), for before/after timing of a
change and for profiles. Run from a checkout (PYTHONPATH=that checkout picks its code):

    python experiments/bench/grpo_steps.py [STUDENT]          # default: experiments/online_rl/runs/v1_dpo_seed0
    farm-bench -n 4 --timeout 900 --vs "sh -c 'cd BEFORE && PYTHONPATH=BEFORE exec python ...'" -- sh -c '...'
    py-spy record -r 100 -f raw -o profile.txt -- python experiments/bench/grpo_steps.py
"""

import sys
from pathlib import Path

import torch

from distill.bench.common import bench_inputs
from distill.bench.rl import SETTINGS, ours

torch.set_num_threads(1)
student = sys.argv[1] if len(sys.argv) > 1 else "experiments/online_rl/runs/v1_dpo_seed0"
inputs = bench_inputs(str(Path(student).resolve()), 200, 10, 0)
print("seconds", ours(inputs.make_student(), inputs.train_problems, inputs.answerer, 20, dict(SETTINGS)))
