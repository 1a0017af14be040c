"""Every reference solution passes its tests in the sandbox, and the empty solution fails."""

from __future__ import annotations

import pytest

from llmcert.codeexec import CodeRunner, task_job
from llmcert.items import import_dataset
from llmcert.items._blobs import get_blob
from llmcert.sandbox import Outcome
from tests.conftest import SHARED_DATA
from tests.sandbox.conftest import sandbox_processes

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
    assert failing == []
    passing_blank = [it.id for it, ex in zip(items, blank, strict=True) if ex.passed]
    assert passing_blank == []
    assert not any(ex.outcome is Outcome.SANDBOX_FAILURE for ex in blank)
    assert sandbox_processes(runner.policy.uid) == []
