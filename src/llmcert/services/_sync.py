"""Run a service coroutine to completion from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, without formatting the result.

    On CPython 3.11, ``asyncio.run`` restores the SIGINT handler through a path that
    builds ``repr()`` of the finished main task, result included, twice
    (python/cpython#112559). A service's result can hold thousands of units, so it
    is handed out through a holder and the main task itself returns nothing.
    """
    holder: list[T] = []

    async def keep() -> None:
        holder.append(await main)

    asyncio.run(keep())
    return holder[0]
