"""``TrainCurve``: rows of the mean training loss and the gradient norm before clipping, on a model whose loss and
gradient are known in closed form."""

import pytest
import pytorch_lightning as pl
import torch

from distill.training.train_curve import TrainCurve


class Scalar(pl.LightningModule):
    """loss = (w x)^2 with w = 1 and x = 1, 2, 3, ... by step: loss x^2, gradient 2 w x^2 = 2 x^2 (a learning rate
    of 0 keeps w at 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        return (self.w * batch).pow(2).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return torch.utils.data.DataLoader([torch.tensor([float(x)]) for x in range(1, 13)], batch_size=None)


@pytest.mark.parametrize("clip", [None, 0.5])
def test_rows_hold_the_mean_loss_and_the_gradient_norm_before_clipping(clip):
    curve = TrainCurve(every=4)
    trainer = pl.Trainer(
        max_steps=10,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=clip,
        callbacks=[curve],
    )
    trainer.fit(Scalar())
    # one row per 4 steps, means over them: losses 1, 4, 9, 16 and 25, 36, 49, 64; gradients twice those (a
    # clipped gradient would read 0.5)
    assert curve.curve == [[4, 7.5, 15.0], [8, 43.5, 87.0]]
