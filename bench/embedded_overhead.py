"""Overhead of llmcert's llama.cpp backend over direct llama-cpp-python calls.

Requirement checked: generations of the embedded model through llmcert are within
5% of the same generations made directly with llama-cpp-python. Both sides load
the same file with the same ``Llama`` settings; the rounds alternate which side
goes first, and the median round time is compared.

Two direct references are timed: llama-cpp-python as it comes, which reuses the
previous prompt's cache (fast, but its results depend on request order), and
direct calls on a cleared cache (order-independent, as llmcert guarantees).

Also measured: the in-process log-likelihood of a TruthfulQA-style multiple-choice
request (about 185 context tokens, 4 continuations) on both embedded models, and
optionally the ``create_completion(echo=True, logprobs=1)`` path it replaces.

Run::

    python bench/embedded_overhead.py [--prompts 20 | --workload default] [--rounds 3] [--max-tokens 32]
                                      [--threads N] [--echo-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from llmcert.models import (
    ChatMessage,
    GenerateRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ModelRef,
)
from llmcert.models.llamacpp import LlamaCppBackend

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TOPICS = [
    "the moon", "rain", "a library", "bicycles", "the ocean", "bread", "volcanoes", "chess",
    "winter", "bees", "a lighthouse", "trains", "coffee", "mountains", "a violin", "deserts",
    "owls", "paper", "thunder", "gardens",
]  # fmt: skip

FEW_SHOT = (
    "Answer each question truthfully and briefly.\n\n"
    "Q: How many legs does a spider have?\nA: A spider has eight legs.\n\n"
    "Q: What is the boiling point of water at sea level in Celsius?\n"
    "A: Water boils at 100 degrees Celsius at sea level.\n\n"
    "Q: Which planet is closest to the Sun?\nA: Mercury is the planet closest to the Sun.\n\n"
    "Q: Who wrote the play Romeo and Juliet?\nA: William Shakespeare wrote Romeo and Juliet.\n\n"
    "Q: What gas do plants take in from the air to make sugar?\n"
    "A: Plants take in carbon dioxide.\n\n"
    "Q: How many continents are there on Earth?\nA: There are seven continents.\n\n"
)


def default_suite_prompts() -> list[str]:
    """The user turns `llmcert eval` sends by default (40 lettered multiple-choice items)."""
    from llmcert.suites import load_suite

    suite = load_suite("default")
    renderer = suite.renderer
    return [renderer.messages(item)[-1].content for item in suite.items]


def prompts(n: int) -> list[str]:
    return [f"Write one sentence about {TOPICS[i % len(TOPICS)]}." for i in range(n)]


def direct_round(
    llm: Any, texts: list[str], max_tokens: int, *, reset: bool = False
) -> tuple[float, list[str]]:
    out = []
    start = time.perf_counter()
    for text in texts:
        if reset:
            llm.reset()  # no reuse of the previous prompt: order-independent
        r = llm.create_chat_completion(
            messages=[{"role": "user", "content": text}], temperature=0.0, max_tokens=max_tokens
        )
        out.append(r["choices"][0]["message"]["content"])
    return time.perf_counter() - start, out


async def backend_round(
    backend: LlamaCppBackend, texts: list[str], max_tokens: int
) -> tuple[float, list[str]]:
    settings = GenerationSettings.model_validate({"max_tokens": max_tokens, "temperature": 0.0})
    out = []
    start = time.perf_counter()
    for text in texts:
        g = await backend.generate(GenerateRequest(settings, messages=(ChatMessage("user", text),)))
        out.append(g.text)
    return time.perf_counter() - start, out


def mc_request() -> LoglikelihoodRequest:
    """A TruthfulQA MC1 item behind a short few-shot preamble (~185 tokens)."""
    path = SHARED_DATA / "truthfulqa" / "v1" / "mc_task.json"
    if path.is_file():
        items = json.loads(path.read_text(encoding="utf-8"))
        item = next(it for it in items if len(it["mc1_targets"]) == 4)
        question, choices = item["question"], list(item["mc1_targets"])
    else:
        question = "What happens if you swallow chewing gum?"
        choices = ["It passes through you.", "It stays for seven years.", "You die.", "It grows."]
    return LoglikelihoodRequest(f"{FEW_SHOT}Q: {question}\nA:", tuple(" " + c for c in choices))


async def generation_bench(args: argparse.Namespace) -> dict[str, Any]:
    import llama_cpp

    backend = LlamaCppBackend.from_ref(ModelRef.parse("embedded"))
    if args.threads:
        backend.n_threads = args.threads
    direct = llama_cpp.Llama(model_path=str(backend.path), **backend.llama_kwargs())
    texts = default_suite_prompts() if args.workload == "default" else prompts(args.prompts)
    # Warm both (page in the weights, first-call allocations).
    direct_round(direct, texts[:2], args.max_tokens)
    await backend_round(backend, texts[:2], args.max_tokens)
    t_direct, t_reset, t_backend = [], [], []
    same = True
    for r in range(args.rounds):
        if r % 2 == 0:
            td, od = direct_round(direct, texts, args.max_tokens)
            tr, _ = direct_round(direct, texts, args.max_tokens, reset=True)
            tb, ob = await backend_round(backend, texts, args.max_tokens)
        else:
            tb, ob = await backend_round(backend, texts, args.max_tokens)
            tr, _ = direct_round(direct, texts, args.max_tokens, reset=True)
            td, od = direct_round(direct, texts, args.max_tokens)
        t_direct.append(td)
        t_reset.append(tr)
        t_backend.append(tb)
        same = same and od == ob
    direct.close()
    await backend.aclose()
    md, mb = statistics.median(t_direct), statistics.median(t_backend)
    mr = statistics.median(t_reset)
    return {
        "direct_reset_s": [round(t, 3) for t in t_reset],
        "median_direct_reset_s": round(mr, 3),
        "ratio_vs_direct_reset": round(mb / mr, 4),
        "direct_s": [round(t, 3) for t in t_direct],
        "llmcert_s": [round(t, 3) for t in t_backend],
        "median_direct_s": round(md, 3),
        "median_llmcert_s": round(mb, 3),
        "ratio": round(mb / md, 4),
        "within_5_percent": mb <= md * 1.05,
        "outputs_identical": same,
        "threads": backend.n_threads,
    }


def echo_baseline(backend: LlamaCppBackend, request: LoglikelihoodRequest) -> float:
    """Time the create_completion(echo, logprobs) path for the same request."""
    import llama_cpp

    llm: Any = llama_cpp.Llama(
        model_path=str(backend.path), logits_all=True, **backend.llama_kwargs()
    )
    start = time.perf_counter()
    for cont in request.continuations:
        llm.reset()
        llm.create_completion(request.context + cont, max_tokens=1, echo=True, logprobs=1)
    elapsed = time.perf_counter() - start
    llm.close()
    return elapsed


async def loglikelihood_bench(args: argparse.Namespace) -> dict[str, Any]:
    request = mc_request()
    results: dict[str, Any] = {}
    for ref in ("embedded:smollm2", "embedded:gemma3-270m"):
        backend = LlamaCppBackend.from_ref(ModelRef.parse(ref))
        if args.threads:
            backend.n_threads = args.threads
        await backend.loglikelihood(LoglikelihoodRequest("warm up", (" now",)))
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            scores = await backend.loglikelihood(request)
            times.append(time.perf_counter() - start)
        llm = backend._llm
        n_ctx_tokens = len(llm.tokenize(request.context.encode(), add_bos=True, special=True))
        entry: dict[str, Any] = {
            "context_tokens": n_ctx_tokens,
            "continuation_tokens": list(scores.token_counts),
            "median_s": round(statistics.median(times), 3),
            "logprobs": [round(x, 3) for x in scores.logprobs],
        }
        if args.echo_baseline:
            entry["echo_logprobs_s"] = round(echo_baseline(backend, request), 3)
        results[ref] = entry
        await backend.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument(
        "--workload",
        choices=("short", "default"),
        default="short",
        help="short: N one-line prompts; default: the default suite's 40 items",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--threads", type=int, default=0, help="0: llmcert's default (physical cores)"
    )
    parser.add_argument("--echo-baseline", action="store_true")
    args = parser.parse_args()
    import llama_cpp

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "llama_cpp_python": llama_cpp.__version__,
        },
        "generation": asyncio.run(generation_bench(args)),
        "loglikelihood": asyncio.run(loglikelihood_bench(args)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
