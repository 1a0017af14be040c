"""run_sync hands a service's result out without ever formatting it (python/cpython#112559)."""

from __future__ import annotations

from llmcert.services._sync import run_sync


class Counted:
    """A result that counts how often it is formatted: a large one costs each time."""

    formatted = 0

    def __repr__(self) -> str:
        Counted.formatted += 1
        return "Counted()"


async def produce() -> Counted:
    return Counted()


def test_the_result_is_returned_and_never_formatted() -> None:
    Counted.formatted = 0
    assert isinstance(run_sync(produce()), Counted)
    assert Counted.formatted == 0
