"""The floor for bench/throughput.py: N chat calls at concurrency C, and nothing else.

A bare aiohttp client against the same endpoint: no suite, no journal, no
identity, no scoring, no report. Its whole-process time, measured the same way,
shows what the machine and the server allow at the moment of measuring.

    python bench/bare_client.py http://127.0.0.1:PORT/v1 MODEL N C
"""

from __future__ import annotations

import asyncio
import sys


async def main(base_url: str, model: str, n: int, c: int) -> None:
    import aiohttp

    pending = iter(range(n))
    connector = aiohttp.TCPConnector(limit=c, ssl=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in pending:
                body = {
                    "model": model,
                    "messages": [{"role": "user", "content": f"Question number {i}"}],
                    "max_tokens": 16,
                }
                async with session.post(f"{base_url}/chat/completions", json=body) as response:
                    data = await response.json()
                    assert data["choices"][0]["message"]["content"] is not None

        await asyncio.gather(*(worker() for _ in range(c)))


if __name__ == "__main__":
    url, name, count, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(main(url, name, count, concurrency))
