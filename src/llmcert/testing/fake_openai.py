"""A loopback OpenAI-compatible server with fault injection, for tests and benchmarks.

As a process::

    python -m llmcert.testing.fake_openai --port 0 --latency 0.2 --model fake \\
        --log requests.jsonl --api-key-env FAKE_KEY --fault status:500:first=3 \\
        --ready-file port.txt

prints ``LISTENING <port>`` once it accepts connections (and writes the port to
``--ready-file`` if given), then serves until SIGTERM or SIGINT. The API key is read from
the environment variable named by ``--api-key-env`` so it never appears on a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from llmcert.testing._faults import FaultKind, FaultRule, TriggerKind
from llmcert.testing._log import RequestRecord
from llmcert.testing._responses import POLICIES, QUIRKS, Policy, Quirk
from llmcert.testing._server import FakeOpenAIServer
from llmcert.testing._thread import ThreadedServer

__all__ = [
    "FakeOpenAIServer",
    "FaultKind",
    "FaultRule",
    "Policy",
    "Quirk",
    "RequestRecord",
    "ThreadedServer",
    "TriggerKind",
    "main",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m llmcert.testing.fake_openai",
        description="Serve a fake OpenAI-compatible API on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require 'Authorization: Bearer $VAR' (key read from the environment)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="e.g. status:500:first=3, drop:every=4, timeout:first_attempt:delay=5",
    )
    parser.add_argument("--policy", choices=POLICIES, default="echo")
    parser.add_argument(
        "--answers",
        type=Path,
        metavar="JSON",
        help="JSON object prompt → answer for --policy answer",
    )
    parser.add_argument("--default-answer", default="I don't know.")
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=QUIRKS,
        help="answer like a known faulty server (repeatable)",
    )
    parser.add_argument("--ready-file", type=Path, help="write the chosen port here when ready")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="answer stream=true with SSE; --latency is then the time to the first token",
    )
    parser.add_argument(
        "--token-interval", type=float, default=0.0, help="seconds between streamed tokens"
    )
    return parser


def _server_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> FakeOpenAIServer:
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            parser.error(f"environment variable {args.api_key_env} is unset or empty")
    try:
        faults = [FaultRule.parse(spec) for spec in args.fault]
    except ValueError as exc:
        parser.error(str(exc))
    answers: dict[str, str] = {}
    if args.answers is not None:
        try:
            loaded = json.loads(args.answers.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            parser.error(f"--answers {args.answers}: {exc}")
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            parser.error(f"--answers {args.answers}: expected a JSON object of strings")
        answers = loaded
    policy: Policy = args.policy
    try:
        return FakeOpenAIServer(
            model=args.model,
            latency=args.latency,
            port=args.port,
            api_key=api_key,
            policy=policy,
            answers=answers,
            default_answer=args.default_answer,
            faults=faults,
            log_path=args.log,
            streaming=args.stream,
            token_interval=args.token_interval,
            quirks=[cast(Quirk, q) for q in args.quirk],
        )
    except ValueError as exc:
        parser.error(str(exc))


async def _serve_until_signal(server: FakeOpenAIServer, ready_file: Path | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        if ready_file is not None:
            # Write-then-rename so a watcher never reads a half-written port.
            tmp = ready_file.with_name(ready_file.name + ".tmp")
            tmp.write_text(f"{server.port}\n", encoding="utf-8")
            os.replace(tmp, ready_file)
        print(f"LISTENING {server.port}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    server = _server_from_args(parser, args)
    asyncio.run(_serve_until_signal(server, args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
