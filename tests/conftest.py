import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
DATA_DIR = Path(os.environ.get("DISTILL_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    if not DATA_DIR.exists():
        pytest.skip(f"shared data not found at {DATA_DIR} (set DISTILL_DATA_DIR)")
    return DATA_DIR


def compose_config(config_name: str, overrides: list[str] | None = None):
    """Compose a real config of ``conf/`` with overrides, as the entry points do."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture
def compose_cfg():
    return compose_config


def objective(algorithm: str, model, total_steps: int, **overrides):
    """The objective of ``conf/algorithm/<algorithm>.yaml`` (its defaults, the only ones), with overrides."""
    from hydra.utils import instantiate

    cfg = compose_config("train", [f"algorithm={algorithm}"])
    return instantiate(cfg.algorithm.module, model=model, total_steps=total_steps, **overrides)


def scratch_student(corpus: list[str], **overrides):
    """A from-scratch student built from ``conf/student/small.yaml`` with overrides (e.g. a smaller width)."""
    from hydra.utils import instantiate

    return instantiate(compose_config("train", ["student=small"]).student, **overrides)(corpus=corpus)


def fit_steps(module, student, records, steps: int, batch_size: int = 16) -> None:
    """Train ``module`` (an objective over ``student``) on ``records`` for ``steps`` with a bare Lightning Trainer."""
    import pytorch_lightning as pl

    from distill.training.episodes import EpisodeDataModule

    student.model.train()
    items = module.make_items(student, records)
    trainer = pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(module, EpisodeDataModule(items, items, student.pad_id, batch_size=batch_size))


def named_bandit_records(bad_share: float = 0.7):
    """A bandit whose right answer depends on the prompt: the rewarded question names the prompt's own
    person, the data's majority names Zed."""
    from distill.core.records import Record

    records = []
    for name in ["Tom", "Anna", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia"]:
        for i in range(10):
            good = i >= round(10 * bad_share)
            records.append(
                Record(
                    f"p-{name}",
                    f"{name} has one thing .",
                    [f"ask {name}" if good else "ask Zed"],
                    1.0,
                    float(good),
                    None,
                )
            )
    return records


@torch.no_grad()
def greedy_uncached(model: torch.nn.Module, prompt: list[int], eos_id: int, max_new_tokens: int = 64) -> list[int]:
    """Reference greedy decoding of one prompt, re-running the whole prefix each step (what the cached decoders
    must reproduce)."""
    ids = list(prompt)
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        token = int(logits.argmax())
        out.append(token)
        ids.append(token)
        if token == eos_id:
            break
    return out
