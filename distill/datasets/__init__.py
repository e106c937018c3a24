"""Data sets of real problems (GSM8K and the paper's decompositions); the synthetic one is in ``distill.synthetic``."""
