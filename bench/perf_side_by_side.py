"""llmcert's load generator and GuideLLM against the same paced fake server and load.

The fake server (child process) streams every answer with a first token 50 ms after
the request arrives and one token every 10 ms after that: the truth both clients
should read. Each round runs llmcert, then GuideLLM (installed in its own venv,
outside the repo), at the same Poisson rate, request count, prompt and 64 output
tokens. GuideLLM's prompts come from a JSON file, so no tokenizer is downloaded.

    python -m venv /tmp/guidellm-venv && /tmp/guidellm-venv/bin/pip install guidellm
    python bench/perf_side_by_side.py --guidellm /tmp/guidellm-venv/bin/guidellm \\
        --rate 10 --requests 100 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from llmcert.perf import (
    LoadSpec,
    OpenAIStreamTarget,
    SLOSpec,
    WorkloadSpec,
    build_requests,
    run_load,
    summarize,
)
from llmcert.testing import fake_server_process

TTFT_MS, INTERVAL_MS, TOKENS, WORDS = 50.0, 10.0, 64, 16


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[max(0, round(p * len(xs)) - 1)] if xs else float("nan")


async def llmcert_round(base_url: str, rate: float, n: int, seed: int) -> dict[str, float]:
    workload = WorkloadSpec.model_validate(
        {"input_tokens": {"value": WORDS}, "output_tokens": {"value": TOKENS}}
    )
    load = LoadSpec(rate=rate, requests=n, seed=seed)
    target = OpenAIStreamTarget(base_url, "fake")
    await target.start()
    try:
        run = await run_load(target, load, build_requests(workload, n, seed))
    finally:
        await target.aclose()
    m = summarize(run.traces, run.duration, SLOSpec())
    ok = [t for t in run.traces if t.status == "ok"]
    from_send = [(t.token_times[0] - t.sent) * 1000 for t in ok if t.sent is not None]
    ttft = [t.ttft * 1000 for t in ok if t.ttft is not None]
    return {
        "ttft_median": statistics.median(ttft),
        "ttft_p95": _pct(ttft, 0.95),
        "ttft_from_send_median": statistics.median(from_send),
        "itl_median": statistics.median(g * 1000 for t in ok for g in t.itl),
        "tpot_median": statistics.median(t.tpot * 1000 for t in ok if t.tpot is not None),
        "lag_p95": _pct([t.lag * 1000 for t in run.traces if t.lag is not None], 0.95),
        "failed": float(m.n_requests - m.n_ok),
    }


def guidellm_round(exe: str, base_url: str, rate: float, n: int, tmp: Path) -> dict[str, float]:
    prompts = tmp / "prompts.jsonl"
    prompts.write_text(
        "\n".join(
            json.dumps({"prompt": "word " * WORDS, "output_tokens_count": TOKENS})
            for _ in range(n * 2)
        )
    )
    out = tmp / "guidellm.json"
    target = base_url.removesuffix("/v1")
    cmd = [
        exe, "run",
        "--backend", f"kind=openai_http,target={target},model=fake,validate_backend=false",
        "--profile", f"kind=poisson,rate={rate}",
        "--constraint", f"kind=max_requests,count={n}",
        "--data", f"kind=json_file,path={prompts}",
        "--output", f"kind=json,path={out}",
        "--disable-console",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    bench = json.loads(out.read_text())["benchmarks"][0]
    reqs = bench["requests"]["successful"]
    ttft = [r["time_to_first_token_ms"] for r in reqs]
    # GuideLLM 0.8 sometimes reports a timestamp (~1.8e9 s) in request_dispatch_delay: a
    # delay over an hour is not a delay, and is counted apart rather than averaged in.
    delays = {
        i: d * 1000
        for i, r in enumerate(reqs)
        if (d := r.get("request_dispatch_delay")) is not None and 0 <= d < 3600
    }
    scheduled = [reqs[i]["time_to_first_token_ms"] + d for i, d in delays.items()]
    return {
        "ttft_median": statistics.median(ttft),
        "ttft_p95": _pct(ttft, 0.95),
        "ttft_plus_dispatch_delay_median": _pct(scheduled, 0.5),
        "itl_median": statistics.median(r["inter_token_latency_ms"] for r in reqs),
        "tpot_median": statistics.median(r["time_per_output_token_ms"] for r in reqs),
        "dispatch_delay_p95": _pct(list(delays.values()), 0.95),
        "dispatch_delay_not_a_delay": float(len(reqs) - len(delays)),
        "failed": float(n - len(reqs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guidellm", required=True)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    extra = ("--stream", "--token-interval", str(INTERVAL_MS / 1000))
    with (
        fake_server_process(latency=TTFT_MS / 1000, model="fake", extra_args=extra) as srv,
        tempfile.TemporaryDirectory() as tmp,
    ):
        rows: dict[str, list[dict[str, float]]] = {"llmcert": [], "guidellm": []}
        for i in range(args.rounds):
            rows["llmcert"].append(
                asyncio.run(llmcert_round(srv.base_url, args.rate, args.requests, i))
            )
            rows["guidellm"].append(
                guidellm_round(args.guidellm, srv.base_url, args.rate, args.requests, Path(tmp))
            )
            print(json.dumps({"round": i, **{k: v[-1] for k, v in rows.items()}}), flush=True)
        for tool, runs in rows.items():
            medians = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
            print(json.dumps({"tool": tool, "truth_ttft_ms": TTFT_MS, "truth_itl_ms": INTERVAL_MS,
                              "medians_of_rounds": medians}))  # fmt: skip


if __name__ == "__main__":
    main()
