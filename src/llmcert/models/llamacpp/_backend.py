"""In-process llama.cpp backend for local GGUF files and the embedded models.

A llama.cpp context is not thread-safe and holds one KV cache, so the backend
allows one call at a time (``max_concurrency = 1``): each call runs in a worker
thread behind a lock, leaving the event loop free for the journal and scorers.

Results must not depend on the order of requests. llama-cpp-python reuses the
longest cached prompt prefix between calls, and a different batch layout gives
slightly different logits (up to 0.2 nats on Gemma). Generations therefore
decode each prompt in a layout that depends on that prompt alone, split where
the final user message begins, and reuse only that first chunk (see
``_prefix``); every log-likelihood is computed from an empty cache.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from llmcert._hashing import digest_bytes, short
from llmcert.errors import (
    IdentityChanged,
    ModelError,
    ModelRefError,
    RequestRejected,
)
from llmcert.models._ref import ModelRef
from llmcert.models._system import EngineSystemInfo, loaded_libraries
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelIdentity,
)
from llmcert.models.embedded import (
    EMBEDDED_INSTALL_HINTS,
    embedded_expected_digest,
    embedded_model_path,
)
from llmcert.models.llamacpp._gguf import (
    GgufFormatError,
    GgufMetadata,
    has_gguf_magic,
    read_gguf_metadata,
)
from llmcert.models.llamacpp._host import (
    StatKey,
    default_threads,
    file_digest,
    positive,
    stat_key,
)
from llmcert.models.llamacpp._loglik import score_continuation, split_tokens
from llmcert.models.llamacpp._prefix import AlignedPrefix

DEFAULT_N_CTX = 4096
MIN_N_CTX = 256
#: Seed used when a request names none, so that sampled runs are reproducible.
DEFAULT_SEED = 0
_INSTALL_HINT = EMBEDDED_INSTALL_HINTS["smollm2"]

# Sampler settings that are not part of GenerationSettings. top_k=0 and min_p=0
# switch those filters off, so temperature/top_p mean what they mean elsewhere.
SAMPLER_DEFAULTS: dict[str, float | int] = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}


def _engine_version(hint: str) -> str:
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        raise ModelRefError(f"llama-cpp-python is not installed; install it with: {hint}") from None


def _import_llama_cpp(hint: str) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelRefError(
            f"the llama.cpp backend needs llama-cpp-python ({exc}); install it with: {hint}"
        ) from exc
    return llama_cpp


class LlamaCppBackend:
    """A GGUF model run in this process by llama-cpp-python."""

    supports_loglikelihood: bool = True

    def __init__(
        self,
        path: Path,
        *,
        ref: str | None = None,
        embedded: str | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        seed: int = DEFAULT_SEED,
    ) -> None:
        """``n_threads`` None: ``$LLMCERT_THREADS``, else every physical core."""
        if n_ctx < MIN_N_CTX:
            # llama.cpp rounds smaller windows up to 256 while llama-cpp-python
            # sizes its token buffer to the request, which then overflows.
            raise ValueError(f"n_ctx must be at least {MIN_N_CTX}, not {n_ctx}")
        if not path.is_file():
            raise ModelRefError(f"model file not found: {path}")
        if not has_gguf_magic(path):
            raise ModelRefError(f"{path} is not a GGUF file (its first bytes are not 'GGUF')")
        try:
            self._meta: GgufMetadata = read_gguf_metadata(path)
        except (GgufFormatError, OSError) as exc:
            raise ModelRefError(f"{path}: cannot read GGUF metadata: {exc}") from exc
        self.path = path
        self.ref = ref or f"llamacpp:{path}"
        self.embedded = embedded
        self.n_ctx = n_ctx
        if n_threads is None:
            n_threads, self.threads_source = default_threads()
        else:
            self.threads_source = "model reference"
        if n_threads < 1:
            raise ValueError(f"n_threads must be at least 1, not {n_threads}")
        self.n_threads = n_threads
        self.seed = seed
        self.max_concurrency: int | None = 1
        self.supports_chat: bool = self._meta.chat_template is not None
        self._lock = threading.Lock()
        self._llm: Any = None
        self._llama_cpp: Any = None
        self._prefix: AlignedPrefix | None = None
        self._identity: ModelIdentity | None = None
        self._stat: StatKey | None = None

    @classmethod
    def from_ref(cls, ref: ModelRef) -> LlamaCppBackend:
        hint = EMBEDDED_INSTALL_HINTS.get(ref.target, _INSTALL_HINT)
        if ref.scheme == "llamacpp":
            hint = _INSTALL_HINT
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModelRefError(
                f"{ref} needs llama-cpp-python, which is not installed; install it with: {hint}"
            )
        options: dict[str, Any] = {}
        if "n_ctx" in ref.params:
            options["n_ctx"] = positive("n_ctx", ref.params["n_ctx"], str(ref))
            if options["n_ctx"] < MIN_N_CTX:
                raise ModelRefError(f"n_ctx must be at least {MIN_N_CTX}, not {options['n_ctx']}")
        if "threads" in ref.params:
            options["n_threads"] = positive("threads", ref.params["threads"], str(ref))
        if ref.scheme == "embedded":
            path = embedded_model_path(ref.target)
            return cls(path, ref=str(ref), embedded=ref.target, **options)
        if ref.scheme == "llamacpp":
            return cls(Path(ref.target).expanduser(), ref=str(ref), **options)
        raise ModelRefError(f"the llama.cpp backend cannot open {ref.scheme!r} references")

    # -- identity -----------------------------------------------------------------

    async def identify(self) -> ModelIdentity:
        if self._identity is None:
            self._identity = await asyncio.to_thread(self._identify_sync)
        return self._identity

    def _identify_sync(self) -> ModelIdentity:
        stat = stat_key(self.path)
        digest = file_digest(self.path)
        if self.embedded is not None:
            expected = embedded_expected_digest(self.embedded)
            if expected is not None and expected != digest:
                raise ModelRefError(
                    f"embedded model file {self.path} does not match its package "
                    f"(sha256 {short(digest)} != {short(expected)}); reinstall with: "
                    f"{EMBEDDED_INSTALL_HINTS[self.embedded]}"
                )
        meta = self._meta
        arch = meta.architecture or "unknown"
        template = meta.chat_template
        details = {
            "architecture": arch,
            "name": meta.get_str("general.name") or "",
            "trained_context_length": meta.get_str(f"{arch}.context_length") or "",
            "file_size": str(stat[0]),
            "file_type": meta.get_str("general.file_type") or "",
            "add_bos_token": meta.get_str("tokenizer.ggml.add_bos_token") or "",
            "gguf_version": str(meta.version),
            **self.run_conditions(),
        }
        if self.embedded is not None:
            details["embedded"] = self.embedded
        self._stat = stat
        return ModelIdentity(
            kind="artefact",
            ref=self.ref,
            artefact_digest=digest,
            artefact_path=str(self.path),
            chat_template_digest=digest_bytes(template.encode("utf-8")) if template else None,
            engine=f"llama-cpp-python {_engine_version(self._install_hint())}",
            details=details,
        )

    def run_conditions(self) -> dict[str, str]:
        """How the model is run: recorded in the conditions, all in one place."""
        return {
            "context_length": str(self.n_ctx),
            "threads": str(self.n_threads),
            "threads_source": self.threads_source,
            "sampler": " ".join(f"{k}={v}" for k, v in sorted(SAMPLER_DEFAULTS.items())),
        }

    async def conditions(self) -> dict[str, str]:
        return self.run_conditions()

    def verify_unchanged(self) -> None:
        """Raise IdentityChanged if the file is no longer the one identify() hashed.

        A stat is cheap enough to run before every call; only when size, mtime or
        inode moved is the file hashed again (a mere ``touch`` is not a change).
        """
        if self._identity is None or self._stat is None:
            return
        try:
            stat = stat_key(self.path)
        except OSError as exc:
            raise IdentityChanged(f"model file {self.path} disappeared during the run") from exc
        if stat == self._stat:
            return
        digest = file_digest(self.path)
        if digest != self._identity.artefact_digest:
            raise IdentityChanged(
                f"model file {self.path} changed during the run "
                f"(sha256 {short(self._identity.artefact_digest or '')} -> {short(digest)})"
            )
        self._stat = stat

    # -- model --------------------------------------------------------------------

    def _llama(self) -> Any:
        """Load the model on first use (call with the lock held)."""
        if self._llm is None:
            llama_cpp = _import_llama_cpp(self._install_hint())
            try:
                self._llm = llama_cpp.Llama(model_path=str(self.path), **self.llama_kwargs())
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelRefError(f"llama.cpp cannot load {self.path}: {exc}") from exc
            self._llama_cpp = llama_cpp
            self._prefix = AlignedPrefix(self._llm)
        return self._llm

    def system_info(self) -> EngineSystemInfo:
        """llama.cpp's own account of the kernels it runs here (the hardware class)."""

        llama_cpp = _import_llama_cpp(self._install_hint())
        with self._lock:  # llama.cpp's report lives in one static buffer
            info = llama_cpp.llama_print_system_info()
            offload = bool(llama_cpp.llama_supports_gpu_offload())
        return EngineSystemInfo(
            engine="llama.cpp",
            version=f"llama-cpp-python {_engine_version(self._install_hint())}",
            system_info=info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info),
            gpu_offload=offload,
            libraries=loaded_libraries(("ggml", "llama")),
            library_override=os.environ.get("LLAMA_CPP_LIB_PATH"),
        )

    def _install_hint(self) -> str:
        return EMBEDDED_INSTALL_HINTS.get(self.embedded or "", _INSTALL_HINT)

    def llama_kwargs(self) -> dict[str, Any]:
        """The settings the model is loaded with, for a like-for-like direct comparison."""
        return {
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads,
            "seed": self.seed,
            "verbose": False,
        }

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            self.verify_unchanged()
            return fn(self._llama(), *args)

    # -- generation ---------------------------------------------------------------

    async def generate(self, request: GenerateRequest) -> Generation:
        if request.messages is not None and not self.supports_chat:
            raise RequestRejected(
                f"{self.ref} has no chat template (it is a base model), so it cannot answer "
                "chat requests; use a suite with completion prompts or log-likelihoods"
            )
        result: Generation = await self._run(self._generate_sync, request)
        return result

    def _generate_sync(self, llm: Any, request: GenerateRequest) -> Generation:
        s = request.settings
        kwargs: dict[str, Any] = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "stop": list(s.stop),
            "seed": request.seed if request.seed is not None else self.seed,
            **SAMPLER_DEFAULTS,
        }
        prefix = self._prefix
        assert prefix is not None
        # Reuse only the canonical first chunk: everything before the last user message.
        last = request.messages[-1] if request.messages else None
        prefix.prepare(last.content if last is not None and last.role == "user" else None)
        try:
            if request.messages is not None:
                messages = [{"role": m.role, "content": m.content} for m in request.messages]
                out = llm.create_chat_completion(messages=messages, **kwargs)
                choice = out["choices"][0]
                text = choice["message"].get("content") or ""
            else:
                out = llm.create_completion(request.prompt, **kwargs)
                choice = out["choices"][0]
                text = choice["text"]
        except Exception as exc:
            prefix.invalidate()
            raise _map_error(exc) from exc
        finally:
            prefix.disarm()
        usage = out.get("usage") or {}
        return Generation(
            text=text,
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    # -- white-box: the rendered conversation ----------------------------------------

    async def chat_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The conversation rendered by the model's own chat template, generation prompt
        included, as ``create_chat_completion`` renders it; ready for a completion request
        (a leading BOS text is dropped when the tokenizer adds BOS itself)."""
        if not self.supports_chat:
            raise RequestRejected(f"{self.ref} has no chat template (it is a base model)")
        text: str = await self._run(self._chat_prompt_sync, tuple(messages))
        return text

    def _chat_prompt_sync(self, llm: Any, messages: tuple[ChatMessage, ...]) -> str:
        from llama_cpp import llama_chat_format

        template = self._meta.chat_template
        assert template is not None
        bos_id, eos_id = int(llm.token_bos()), int(llm.token_eos())
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
        )
        turns: Any = [{"role": m.role, "content": m.content} for m in messages]
        try:
            rendered = formatter(messages=turns)
        except Exception as exc:
            raise _map_error(exc) from exc
        prompt = str(rendered.prompt)
        adds_bos = llm.tokenize(b"", add_bos=True, special=True)[:1] == [bos_id]
        if bos and adds_bos and prompt.startswith(bos):
            prompt = prompt[len(bos) :]
        return prompt

    # -- log-likelihoods ----------------------------------------------------------

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        result: Loglikelihoods = await self._run(self._loglikelihood_sync, request)
        return result

    def _loglikelihood_sync(self, llm: Any, request: LoglikelihoodRequest) -> Loglikelihoods:
        logprobs: list[float] = []
        counts: list[int] = []
        greedy: list[bool] = []
        assert self._prefix is not None
        self._prefix.invalidate()  # the scorer decodes into the same context
        for continuation in request.continuations:
            try:
                prefix, cont = split_tokens(llm, request.context, continuation)
                score = score_continuation(llm, self._llama_cpp, prefix, cont)
            except ModelError:
                raise
            except Exception as exc:
                raise _map_error(exc) from exc
            finally:
                self._prefix.invalidate()
            logprobs.append(score.logprob)
            counts.append(score.n_tokens)
            greedy.append(score.is_greedy)
        return Loglikelihoods(tuple(logprobs), tuple(counts), tuple(greedy))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
                self._prefix = None

    def __repr__(self) -> str:
        return f"LlamaCppBackend({self.ref!r}, n_ctx={self.n_ctx}, threads={self.n_threads})"


def _map_error(exc: Exception) -> ModelError:
    """Translate llama-cpp-python's exceptions at the boundary."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, ValueError) and "context window" in message:
        return RequestRejected(f"prompt too long for the model's context: {message}")
    # ValueError/TypeError: input the model cannot take (bad roles, template errors).
    # jinja2.TemplateError is raised by chat templates on malformed conversations.
    if isinstance(exc, ValueError | TypeError) or type(exc).__module__.startswith("jinja2"):
        return RequestRejected(f"llama.cpp rejected the request: {message}")
    return ModelError(f"llama.cpp failed: {type(exc).__name__}: {message}")
