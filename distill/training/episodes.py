"""Tokenized training items to batches: length-bucketed sampling, dynamic padding, the Lightning data module."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from distill.core.errors import UsageError


class EpisodeDataset(Dataset):
    """Episodes as dicts of equal-length lists (``input_ids``, ``action_mask``, and any per-token extras)."""

    def __init__(self, items: list[dict[str, list]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list]:
        return self.items[index]


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of similar length: shuffle, sort within pools of ``pool`` batches, shuffle the batches.

    Epoch e's batches are a pure function of (seed, e). Each iteration gives the next epoch's; an
    ``endless`` sampler instead runs through epoch after epoch, starting at batch ``start`` of the whole
    sequence, so that a run resumed after ``start`` batches sees exactly the batches it would have seen.
    Under data parallelism (``world_size`` processes) an endless sampler gives process ``rank`` every
    ``world_size``-th batch of that sequence, and ``start`` counts this process's batches.
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pool: int = 50,
        endless: bool = False,
        start: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.lengths, self.batch_size, self.shuffle, self.seed, self.pool = lengths, batch_size, shuffle, seed, pool
        self.endless, self.start, self.rank, self.world_size = endless, start, rank, world_size
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        if not self.endless:
            self.epoch += 1
            return iter(self.epoch_batches(self.epoch - 1))
        return self._endless()

    def _endless(self) -> Iterator[list[int]]:
        index = self.start * self.world_size  # batches all processes consumed before
        epoch, position = divmod(index, len(self))
        while True:
            for batch in self.epoch_batches(epoch)[position:]:
                if index % self.world_size == self.rank:
                    yield batch
                index += 1
            epoch, position = epoch + 1, 0

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed + epoch)
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        window = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-len(self.lengths) // self.batch_size)


def collate(items: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad every per-token field to the batch's longest sequence; ``attention_mask`` marks real tokens.

    An item holds one sequence (``input_ids`` and per-token lists of the same length) or several, each
    under a prefix (``chosen_input_ids``, ``chosen_action_mask``, ``rejected_input_ids``, ...); each is
    padded on its own and gets its own ``<prefix>attention_mask``. Scalars (e.g. a sequence weight or a
    reference log-probability) become one value per item.
    """
    prefixes = [key[: -len("input_ids")] for key in items[0] if key.endswith("input_ids")]
    batch: dict[str, Any] = {}
    for prefix in prefixes:
        width = max(len(item[prefix + "input_ids"]) for item in items)
        batch[prefix + "attention_mask"] = torch.tensor(
            [[1] * len(item[prefix + "input_ids"]) + [0] * (width - len(item[prefix + "input_ids"])) for item in items]
        )
        for key in [
            k
            for k in items[0]
            if k.startswith(prefix)
            and isinstance(items[0][k], list)
            and not any(k.startswith(other) for other in prefixes if len(other) > len(prefix))
        ]:
            fill = pad_id if key.endswith("input_ids") else 0
            dtype = torch.long if key.endswith(("input_ids", "action_mask")) else torch.float
            batch[key] = torch.tensor([item[key] + [fill] * (width - len(item[key])) for item in items], dtype=dtype)
    for key in [k for k in items[0] if not isinstance(items[0][k], list)]:
        batch[key] = torch.tensor([item[key] for item in items], dtype=torch.float)
    return batch


def item_length(item: dict[str, Any]) -> int:
    """Tokens in an item, over all its sequences (for length buckets)."""
    return sum(len(v) for k, v in item.items() if k.endswith("input_ids"))


class _Endless:
    """A batch sampler without a length, so that Lightning treats the epoch as endless."""

    def __init__(self, sampler: LengthBucketSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.sampler)


class EpisodeDataModule(pl.LightningDataModule):
    def __init__(
        self, train: list[dict[str, list]], val: list[dict[str, list]], pad_id: int, batch_size: int = 16, seed: int = 0
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise UsageError(f"data.batch_size must be at least 1, got {batch_size}")
        self.train_set, self.val_set = EpisodeDataset(train), EpisodeDataset(val)
        self.pad_id, self.batch_size, self.seed = pad_id, batch_size, seed

    def _loader(self, dataset: EpisodeDataset, shuffle: bool, endless: bool = False, start: int = 0) -> DataLoader:
        lengths = [item_length(item) for item in dataset.items]
        # training batches are shared out among data-parallel processes; each validates on all of val
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer and endless else (0, 1)
        sampler = LengthBucketSampler(
            lengths,
            self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            endless=endless,
            start=start,
            rank=rank,
            world_size=world,
        )
        return DataLoader(
            dataset,
            batch_sampler=_Endless(sampler) if endless else sampler,
            collate_fn=lambda b: collate(b, self.pad_id),
        )

    def train_dataloader(self) -> DataLoader:
        """Endless, training stops by steps; a run resumed from a checkpoint continues with the next batch."""
        # batches consumed before a resume: checkpoints are written at optimiser-step boundaries
        done = self.trainer.global_step * self.trainer.accumulate_grad_batches if self.trainer else 0
        return self._loader(self.train_set, shuffle=True, endless=True, start=done)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
