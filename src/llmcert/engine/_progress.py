"""Progress reporting for long runs, kept off the hot path.

The executor only bumps counters; a rich display (if any) redraws a few times a
second from its own thread, so a fast endpoint is not slowed by the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID


class ProgressSink(Protocol):
    def start(self, total: int, already_done: int) -> None: ...
    def advance(self, *, error: bool) -> None: ...
    def retried(self) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    def start(self, total: int, already_done: int) -> None:
        pass

    def advance(self, *, error: bool) -> None:
        pass

    def retried(self) -> None:
        pass

    def stop(self) -> None:
        pass


def _RateColumn() -> Any:
    """Units per second, computed at redraw time (a few times a second), not per unit."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.speed
            return Text(f"{speed:.1f}/s" if speed else "")

    return RateColumn()


class RichProgress:
    """done/total, rate, errors, retries and ETA on stderr."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("retries {task.fields[retries]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            refresh_per_second=4,
            transient=False,
        )
        self._description = description
        self._task: TaskID | None = None
        self._errors = 0
        self._retries = 0

    def start(self, total: int, already_done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=total, completed=already_done, errors=0, retries=0
        )

    def advance(self, *, error: bool) -> None:
        assert self._task is not None
        if error:
            self._errors += 1
        # Counters only: the rate is computed by its column when the display redraws.
        self._progress.update(self._task, advance=1, errors=self._errors, retries=self._retries)

    def retried(self) -> None:
        self._retries += 1

    def stop(self) -> None:
        self._progress.stop()
