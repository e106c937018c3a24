"""distill: distil an LLM's problem decomposition into a compact student, and measure the gap."""

__version__ = "0.1.0"
