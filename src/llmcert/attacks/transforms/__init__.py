"""The built-in static attacks (L1 random, L2 blind-box), by family."""

from llmcert.attacks.transforms import chinese, encodings, noise, templates

__all__ = ["chinese", "encodings", "noise", "templates"]
