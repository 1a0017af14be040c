"""A paced streaming fake server in a child process, so its timing never shares the
client's event loop or CPU time slice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmcert.testing import ServerProcess, fake_server_process

#: Injected time to first token and pace between tokens, in seconds.
TTFT_S = 0.05
INTERVAL_S = 0.01


@pytest.fixture(scope="module")
def paced_server() -> Iterator[ServerProcess]:
    with fake_server_process(
        latency=TTFT_S,
        extra_args=("--stream", "--token-interval", str(INTERVAL_S)),
    ) as srv:
        yield srv
