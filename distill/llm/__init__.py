"""LLM clients (Anthropic, local Hugging Face) and the three roles played through them."""
