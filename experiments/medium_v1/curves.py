"""Validation curves and test accuracy of world-v1 Filtered BC runs from scratch (k = 1): the size grid's medium runs
and the small ones (experiments/size_grid_v1) beside this folder's interventions, read from each run's results.json;
then, for the runs that recorded it (``train.train_curve``), the training loss and gradient norm by step.

    python experiments/medium_v1/curves.py
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent
GRID = ROOT.parent / "synthetic_gap" / "runs"


def runs() -> list[tuple[str, Path]]:
    grid = [
        (
            f"grid: {size}, seed {seed}",
            GRID / f"+experiment=synthetic_fbc_scratch,answerer.k=1,seed={seed},student={size}",
        )
        for size in ("small", "medium")
        for seed in range(3)
    ]
    budget = [
        ("grid's budget runs: medium, seed 0, 48k episodes", GRID.parent / "budget_runs" / "medium_fbc_k1_seed0_48k")
    ]
    return grid + budget + [(f"here: {p.name}", p) for p in sorted((ROOT / "runs").glob("*")) if p.is_dir()]


def main() -> None:
    print("| run | steps x batch | lr | validation accuracy by step | best val | test |")
    print("|---|---|---|---|---|---|")
    for name, folder in runs():
        path = folder / "results.json"
        if not path.exists():
            print(f"| {name} | (not finished) | | | | |")
            continue
        r = json.loads(path.read_text())
        train, recipe = r["train"], r["config"]["recipe"]
        curve = ", ".join(f"{step}: {acc:.2f}" for step, acc in train.get("val_curve", [])) or "(not recorded)"
        print(
            f"| {name} | {train['steps']} x {train['batch_size']} | {recipe['lr']:.3g} | {curve} | "
            f"{train.get('best_val_accuracy', float('nan')):.2f} | {r['student']['accuracy']:.3f} |"
        )
    with_loss = [
        (name, json.loads((f / "results.json").read_text())["train"])
        for name, f in runs()
        if (f / "results.json").exists()
    ]
    with_loss = [(name, t) for name, t in with_loss if t.get("train_curve")]
    if with_loss:
        steps = (250, 500, 1000, 1500, 2000, 2500, 3000)
        print("\n| run | " + " | ".join(f"loss / grad norm, step {s}" for s in steps) + " |")
        print("|---|" + "---|" * len(steps))
        for name, t in with_loss:
            rows = {step: (loss, norm) for step, loss, norm in t["train_curve"]}
            cells = [f"{rows[s][0]:.3f} / {rows[s][1]:.2f}" if s in rows else "" for s in steps]
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
