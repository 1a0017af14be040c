"""Every reference solution passes its tests in the sandbox, and the empty solution fails."""

from __future__ import annotations

import pytest

from llmcert.codeexec import CodeRunner, task_job
from llmcert.items import import_dataset
from llmcert.items._blobs import get_blob
from llmcert.sandbox import Outcome
from tests.conftest import SHARED_DATA
from tests.sandbox.conftest import sandbox_processes

#: Tasks whose tests exchange more than a reply between the program and the tests may hold
#: (``sandbox._wire.MAX_FRAME``): MBPP+/255's extended tests ask for every 77-combination
#: with replacement of five colours, 1,663,740 tuples (about 0.5 GB as JSON). Its reference
#: solution cannot pass, so the scorer leaves the task unscored ("reference_failed").
TOO_LARGE = {("mbppplus", "mbpp-plus-0255")}

CASES = [
    pytest.param("humaneval", "humaneval", "tests", id="humaneval"),
    pytest.param("mbpp", "mbpp", "tests", id="mbpp"),
    pytest.param(
        "humanevalplus", "humanevalplus", "tests_plus", id="humaneval+", marks=pytest.mark.slow
    ),
    pytest.param("mbppplus", "mbppplus", "tests_plus", id="mbpp+", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("importer", "folder", "key"), CASES)
def test_canonical_solutions_pass_and_empty_ones_fail(
    runner: CodeRunner, importer: str, folder: str, key: str
) -> None:
    items = import_dataset(importer, SHARED_DATA / folder, {})
    tests = [
        get_blob(it.metadata[key]) if key == "tests_plus" else it.metadata[key] for it in items
    ]
    pairs = list(zip(items, tests, strict=True))
    jobs = [task_job(it.metadata, it.metadata["canonical"], t, 60.0) for it, t in pairs]
    empty = [task_job(it.metadata, it.metadata["prompt"], t, 60.0) for it, t in pairs]
    results = runner.run_many(jobs + empty, workers=4)
    canonical, blank = results[: len(items)], results[len(items) :]
    failing = [
        (it.id, ex.outcome, ex.detail)
        for it, ex in zip(items, canonical, strict=True)
        if ex.outcome is not Outcome.PASSED
    ]
    too_large = {name for kind, name in TOO_LARGE if kind == importer and key == "tests_plus"}
    assert [f for f in failing if f[0] not in too_large] == []
    assert {f[0] for f in failing} == too_large
    assert all(f[1] in (Outcome.TIME_LIMIT, Outcome.RUNTIME_ERROR) for f in failing)
    passing_blank = [it.id for it, ex in zip(items, blank, strict=True) if ex.passed]
    assert passing_blank == []
    assert not any(ex.outcome is Outcome.SANDBOX_FAILURE for ex in blank)
    assert sandbox_processes(runner.policy.uid) == []
