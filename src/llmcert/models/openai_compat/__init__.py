"""OpenAI-compatible endpoints (vLLM, llama.cpp's server, Ollama, TGI, commercial APIs).

``_backend`` is the ModelBackend; ``_http`` maps HTTP onto llmcert's errors;
``_sampler`` names the neutral sampler each server family needs;
``_fingerprint`` and ``_cache`` identify the served model by behaviour and check
that its answers do not depend on request order; ``_loglik`` gives correct
log-likelihoods or refuses them.
"""

from llmcert.models.openai_compat._backend import DEFAULT_KEY_ENVS, OpenAICompatBackend
from llmcert.models.openai_compat._fingerprint import CANARY_PROMPTS
from llmcert.models.openai_compat._loglik import LoglikelihoodRefused

__all__ = ["CANARY_PROMPTS", "DEFAULT_KEY_ENVS", "LoglikelihoodRefused", "OpenAICompatBackend"]
