"""Benchmarks, side by side in one process: our decoding, training and teacher runs against the paper's loops,
Hugging Face's ``generate`` and ``Trainer``, and one request at a time; and the time a recipe takes to reach an
accuracy. One module per group; ``python -m distill.bench`` (``__main__``) runs them. Every comparison first
checks that both sides produce the same output where they must (greedy decodes), then times them alternately.
"""
