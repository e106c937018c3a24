"""Resumable training state that survives damage: the last checkpoint and the one before it.

:class:`AtomicCheckpointIO` writes every checkpoint into a temporary file beside its target and renames it over
it, so a kill or a full disk while writing leaves the previous file whole (Lightning's own save writes into the
system's temporary folder and, when that is another file system, copies over the target in place). What
nothing can prevent is a file damaged afterwards (a truncated copy, a bad sector): :func:`resume_point` checks
``last.ckpt`` before resuming, and when it is damaged names it in one line, sets it aside and falls back to
``last.prev.ckpt``, the checkpoint of the validation before, which :class:`ResumableCheckpoint` keeps; with
neither whole, the stage trains afresh.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from distill.core.atomic import atomic_write

LAST, PREVIOUS = "last.ckpt", "last.prev.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, written whole or not at all (:func:`distill.core.atomic.atomic_write`)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_write(path, lambda fh: torch.save(checkpoint, fh))


class ResumableCheckpoint(ModelCheckpoint):
    """The whole training state after every validation as ``last.ckpt``; the one it replaces is renamed
    ``last.prev.ckpt`` first (a file of its own: damage to one leaves the other; between the rename and the new
    write only the previous exists, and :func:`resume_point` takes it)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(dirpath=folder, filename=Path(LAST).stem, save_top_k=1, enable_version_counter=False)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        if trainer.is_global_zero and os.path.exists(filepath):
            os.replace(filepath, Path(filepath).with_name(PREVIOUS))
        super()._save_checkpoint(trainer, filepath)


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint file cannot be resumed from (truncated, corrupt), or None when it is whole: torch saves a
    zip archive, whose directory sits at the end (truncation loses it) and whose members carry checksums."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"not a whole checkpoint: {error}"
    return f"corrupt member {bad}" if bad else None


def resume_point(folder: Path) -> Path | None:
    """The newest whole checkpoint of ``folder`` to resume from, or None (train from the start). A damaged one is
    named on stderr and renamed ``*.damaged``; with none left, stale best-weights files go too."""
    for path in (folder / LAST, folder / PREVIOUS):
        if not path.exists():
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        fallback = (
            "the checkpoint before it"
            if path.name == LAST and (folder / PREVIOUS).exists()
            else "training this stage afresh"
        )
        print(
            f"warning: {path} is damaged ({problem}); set aside as {path.name}.damaged, {fallback}",
            file=sys.stderr,
            flush=True,
        )
        os.replace(path, path.with_name(path.name + ".damaged"))
    for stale in folder.glob("best*.ckpt"):  # chosen by a run that cannot be resumed
        stale.unlink()
    return None
