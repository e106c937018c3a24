"""Training: records to batched episodes, record selection, the Lightning fit, generation-based validation."""
