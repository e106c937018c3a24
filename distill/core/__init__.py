"""The shared vocabulary: contracts (types and protocols), records and their formats, answer checking,
building a run's parts from config, and teacher runs."""
