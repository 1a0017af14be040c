"""In-process llama.cpp: local GGUF files and the embedded models.

``_backend`` is the ModelBackend; ``_gguf`` reads a file's metadata without
loading it, ``_host`` gives the thread count and the file's digest, ``_loglik``
scores continuations from raw logits and ``_prefix`` keeps generations
independent of request order.
"""

from llmcert.models.llamacpp._backend import (
    DEFAULT_N_CTX,
    DEFAULT_SEED,
    SAMPLER_DEFAULTS,
    LlamaCppBackend,
)
from llmcert.models.llamacpp._host import THREADS_ENV, default_threads, file_digest

__all__ = [
    "DEFAULT_N_CTX",
    "DEFAULT_SEED",
    "SAMPLER_DEFAULTS",
    "THREADS_ENV",
    "LlamaCppBackend",
    "default_threads",
    "file_digest",
]
