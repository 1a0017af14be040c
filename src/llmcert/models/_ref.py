"""ModelRef: the one parser for how users name a model.

Accepted forms::

    embedded                      the bundled default (SmolLM2-135M-Instruct, GGUF)
    embedded:smollm2              the same, named
    embedded:gemma3-270m          Gemma 3 270M base model (completion prompts only)
    llamacpp:PATH.gguf            a local GGUF file run in-process with llama.cpp
    ...?n_ctx=8192&threads=4      for the in-process forms: context window and threads
                                  (default 4096 and every physical core, or $LLMCERT_THREADS)
    openai://HOST:PORT/PATH?model=NAME[&api=chat|completions][&key_env=VAR]
              [&server=llamacpp|vllm|tgi|ollama|openai]   (else detected from /models)
    openai+https://HOST/PATH?model=NAME[...]
    mock:NAME                     a deterministic in-process test double

API keys never appear in a ModelRef: they are read from the environment variable
named by ``key_env`` (default ``LLMCERT_API_KEY``, then ``OPENAI_API_KEY``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from llmcert.errors import ModelRefError

EMBEDDED_MODELS = ("smollm2", "gemma3-270m")
_SECRET_PARAMS = {"api_key", "apikey", "key", "token", "access_token", "password"}
_OPENAI_PARAMS = {"model", "api", "key_env", "timeout", "server"}
_LOCAL_PARAMS = {"n_ctx", "threads"}
#: Serving engines an OpenAI-compatible reference may name with ``server=``.
SERVER_FAMILIES = ("llamacpp", "llama-cpp-python", "vllm", "tgi", "ollama", "openai")

_USAGE = (
    "expected one of: 'embedded', 'embedded:smollm2', 'embedded:gemma3-270m', "
    "'llamacpp:PATH.gguf', 'openai://HOST:PORT/v1?model=NAME', "
    "'openai+https://HOST/v1?model=NAME', 'mock:NAME'"
)


def _safe(text: str) -> str:
    """The reference as it may be shown: no query string, no user information."""
    base = text.split("?", 1)[0]
    scheme, sep, rest = base.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}" if sep else base


def _refuse_secrets(text: str) -> None:
    """Refuse keys in a reference before any message could repeat it."""
    query = text.split("?", 1)[1] if "?" in text else ""
    names = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
    secret = _SECRET_PARAMS & names
    if secret:
        raise ModelRefError(
            f"{sorted(secret)[0]!r} in a model reference is refused: API keys are read "
            "only from an environment variable (LLMCERT_API_KEY, or key_env=NAME)"
        )
    netloc = text.partition("://")[2].split("/", 1)[0]
    if "@" in netloc:
        raise ModelRefError(
            "credentials in a model reference are refused: put the API key in an "
            "environment variable (LLMCERT_API_KEY, or the one named by key_env=)"
        )


def _local_params(text: str) -> dict[str, str]:
    """``?n_ctx=N&threads=N`` of an in-process reference, checked for unknown names."""
    query = text.split("?", 1)[1] if "?" in text else ""
    params = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(params) - _LOCAL_PARAMS
    if unknown:
        raise ModelRefError(
            f"unknown parameter(s) {', '.join(sorted(unknown))} in {_safe(text)!r}; "
            f"known: {', '.join(sorted(_LOCAL_PARAMS))}"
        )
    return params


@dataclass(frozen=True)
class ModelRef:
    scheme: str  # "embedded" | "llamacpp" | "openai" | "mock"
    target: str  # embedded model name, file path, base URL, or mock name
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        text = text.strip()
        if not text:
            raise ModelRefError(f"empty model reference; {_USAGE}")
        _refuse_secrets(text)
        if text == "embedded" or text.startswith("embedded?"):
            return cls("embedded", "smollm2", _local_params(text), text=text)
        scheme, sep, rest = text.partition(":")
        if not sep:
            raise ModelRefError(f"unknown model reference {_safe(text)!r}; {_USAGE}")
        if scheme == "embedded":
            name = rest.split("?", 1)[0]
            if name not in EMBEDDED_MODELS:
                raise ModelRefError(
                    f"unknown embedded model {name!r}; choose one of {', '.join(EMBEDDED_MODELS)}"
                )
            return cls("embedded", name, _local_params(text), text=text)
        if scheme == "llamacpp":
            path = rest.split("?", 1)[0]
            if not path:
                raise ModelRefError(
                    "llamacpp: needs a path to a .gguf file, e.g. llamacpp:model.gguf"
                )
            return cls("llamacpp", path, _local_params(text), text=text)
        if scheme == "mock":
            return cls("mock", rest or "echo", text=text)
        if scheme in ("openai", "openai+http", "openai+https"):
            return cls._parse_openai(scheme, text)
        raise ModelRefError(f"unknown model scheme {scheme!r} in {_safe(text)!r}; {_USAGE}")

    @classmethod
    def _parse_openai(cls, scheme: str, text: str) -> ModelRef:
        http_scheme = "https" if scheme == "openai+https" else "http"
        parts = urlsplit(text)
        if not parts.hostname:
            raise ModelRefError(f"{_safe(text)!r} has no host; {_USAGE}")
        try:
            port_number = parts.port
        except ValueError:
            raise ModelRefError(
                f"{_safe(text)!r} has an invalid port (expected a number from 1 to 65535)"
            ) from None
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(params) - _OPENAI_PARAMS
        if unknown:
            raise ModelRefError(
                f"unknown parameter(s) {', '.join(sorted(unknown))} in {_safe(text)!r}; "
                f"known: {', '.join(sorted(_OPENAI_PARAMS))}"
            )
        if not params.get("model"):
            raise ModelRefError(f"{_safe(text)!r} needs ?model=NAME (the served model's name)")
        if params.get("api", "chat") not in ("chat", "completions"):
            raise ModelRefError(f"api must be 'chat' or 'completions', not {params['api']!r}")
        if params.get("server", "llamacpp") not in SERVER_FAMILIES:
            raise ModelRefError(
                f"server must be one of {', '.join(SERVER_FAMILIES)}, not {params['server']!r}"
            )
        port = f":{port_number}" if port_number else ""
        # urlsplit strips an IPv6 literal's brackets; a URL needs them back.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        base_url = f"{http_scheme}://{host}{port}{parts.path.rstrip('/')}"
        return cls("openai", base_url, params, text=text)

    def __str__(self) -> str:
        return self.text or f"{self.scheme}:{self.target}"
