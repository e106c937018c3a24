"""Decision-token margins, one input per (problem, habit) prefix (the code at a given commit) against one per problem
(the code here), on a saved student's test split: seconds each, alternated twice, and the margins, which must agree.

    git show b5241aa:distill/synthetic/decisions.py > /tmp/old_decisions.py
    python experiments/bench/margins_bench.py RUN_FOLDER /tmp/old_decisions.py   (a run folder with its student/)
"""

import importlib.util
import json
import sys
import time

import torch
from hydra.utils import instantiate

from distill.synthetic import decisions as new
from distill.training.saved_run import load_trained

torch.set_num_threads(1)
run, old_path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("old_decisions", old_path)
old = importlib.util.module_from_spec(spec)
spec.loader.exec_module(old)
student, *_ = load_trained(run)
problems = instantiate(json.load(open(f"{run}/results.json"))["config"]["dataset"]).load("test")
for name, margins in [("per prefix", old.decision_token_margins), ("per problem", new.decision_token_margins)] * 2:
    start = time.perf_counter()
    out = margins(student, problems)
    print(f"{name}: {time.perf_counter() - start:.2f} s", {h: round(v["policy_margin"], 4) for h, v in out.items()})
