"""The evaluation service: a suite on a model, from reference to written report.

Orchestration only; nothing here knows about the CLI or HTTP. Identifying an
endpoint costs a network round trip, so the first thing done is to start it:
loading the rest of the pipeline, the suite and the rendered prompts happen in a
worker thread meanwhile, and into a fresh journal the first calls go out before
the identity is back (see ``_pipeline.run_units``). What only the end needs
(scoring, the report, the environment) is done in the quiet moments while calls
are in flight (see ``_unit_finish``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmcert.engine import RetryPolicy
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelRef, open_backend
from llmcert.services._request import EvalOutcome, EvalRequest
from llmcert.services._sync import run_sync

if TYPE_CHECKING:
    from llmcert.engine import ProgressSink
    from llmcert.services._pipeline import Prepared

def _prepare(request: EvalRequest) -> Prepared:
    from llmcert.services import _pipeline

    return _pipeline.prepare(request)


async def evaluate(
    request: EvalRequest,
    *,
    progress: ProgressSink | None = None,
    backend: ModelBackend | None = None,
    retry: RetryPolicy | None = None,
    before_execute: Callable[[], None] | None = None,
    ahead: Sequence[Callable[[], object]] = (),
) -> EvalOutcome:
    """Evaluate one suite on one model; resumable by re-running the same request.

    ``before_execute`` runs once everything is loaded, just before the first work
    unit is sent (the CLI uses it for process-wide tuning). ``ahead`` is work the
    caller needs only afterwards, done while calls are in flight (the CLI loads its
    table renderer there).
    """
    t0 = time.perf_counter()
    started_at = datetime.now(UTC)
    if request.limit is not None and request.limit < 1:
        raise SpecError("--limit must be at least 1")
    ref = ModelRef.parse(request.model)  # a bad reference fails before anything is loaded
    model = backend if backend is not None else open_backend(ref)
    # Identification goes first: the first calls need its answer soon after they return.
    identifying = asyncio.create_task(model.identify())
    try:
        # A bad suite is reported at once, without waiting on the model.
        prepared = await asyncio.to_thread(_prepare, request)
        from llmcert.services import _pipeline  # loaded by the preparation thread

        await _pipeline.check_ready(prepared, model)
        executed = await _pipeline.run_units(
            request,
            prepared,
            identifying,
            model,
            progress=progress,
            retry=retry,
            before_execute=before_execute,
            ahead=ahead,
        )
    finally:
        identifying.cancel()  # no effect once done; its outcome is collected either way
        await asyncio.gather(identifying, return_exceptions=True)
        if backend is None:
            await model.aclose()
    return _pipeline.finish(
        request,
        prepared,
        executed,
        started_at=started_at,
        t0=t0,
        command=request.command,
    )


def evaluate_sync(request: EvalRequest, **kwargs: Any) -> EvalOutcome:
    return run_sync(evaluate(request, **kwargs))


__all__ = ["EvalOutcome", "EvalRequest", "evaluate", "evaluate_sync"]
