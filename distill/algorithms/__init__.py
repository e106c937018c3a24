"""Training objectives, one LightningModule each."""
