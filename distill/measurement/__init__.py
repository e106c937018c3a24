"""Measurement: batched decoding, the student and teacher rows, and results.json."""
