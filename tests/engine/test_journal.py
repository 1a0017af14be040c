import sqlite3
from pathlib import Path

import pytest

from llmcert.engine import Journal, decode_output, encode_output
from llmcert.errors import JournalError
from llmcert.models import Generation, Loglikelihoods


def test_outputs_round_trip() -> None:
    gen = Generation("答案是 B", "stop", 12, 3)
    ll = Loglikelihoods((-1.5, -0.25), (2, 1), (False, True))
    assert decode_output(encode_output(gen)) == gen
    assert decode_output(encode_output(ll)) == ll


def test_record_and_lookup_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record(
            "k1",
            output=Generation("x"),
            error=None,
            error_kind=None,
            attempts=1,
            latency_s=0.1,
            run_id="r",
        )
        j.record(
            "k2",
            output=None,
            error="ServerError: 500",
            error_kind="ServerError",
            attempts=6,
            latency_s=2.0,
            run_id="r",
        )
    with Journal(path) as j:
        found = j.lookup(["k1", "k2", "missing"])
    assert set(found) == {"k1", "k2"}
    assert found["k1"].status == "ok"
    assert found["k1"].output == Generation("x")
    assert found["k2"].status == "error"
    assert found["k2"].error_kind == "ServerError"


def test_an_answer_is_never_replaced(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record(
            "k",
            output=Generation("first"),
            error=None,
            error_kind=None,
            attempts=1,
            latency_s=0.1,
            run_id="a",
        )
        j.record(
            "k",
            output=Generation("second"),
            error=None,
            error_kind=None,
            attempts=1,
            latency_s=0.1,
            run_id="b",
        )
        j.record(
            "k",
            output=None,
            error="boom",
            error_kind="ServerError",
            attempts=1,
            latency_s=0.1,
            run_id="c",
        )
        entry = j.lookup(["k"])["k"]
    assert entry.output == Generation("first")
    assert entry.run_id == "a"


def test_an_error_is_replaced_by_a_later_answer_and_attempts_add_up(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record(
            "k",
            output=None,
            error="boom",
            error_kind="ServerError",
            attempts=6,
            latency_s=1.0,
            run_id="a",
        )
        j.record(
            "k",
            output=Generation("ok"),
            error=None,
            error_kind=None,
            attempts=2,
            latency_s=0.1,
            run_id="b",
        )
        entry = j.lookup(["k"])["k"]
    assert entry.status == "ok"
    assert entry.attempts == 8
    assert entry.error is None


def test_lookup_many_keys_in_batches(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        for i in range(1203):
            j.record(
                f"k{i}",
                output=Generation(str(i)),
                error=None,
                error_kind=None,
                attempts=1,
                latency_s=0.0,
                run_id="r",
            )
        found = j.lookup(f"k{i}" for i in range(0, 1300))
    assert len(found) == 1203


def test_runs_count_invocations(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.begin_run("r1", {"a": 1}) == 1
        assert j.begin_run("r1", {"a": 1}) == 2
        assert j.begin_run("r2", {}) == 1


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "j.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot open the journal"):
        Journal(bad)


def test_output_to_dict_is_what_is_journaled() -> None:
    import json

    from llmcert.engine import output_to_dict

    gen = Generation("答案", "stop", 3, 1)
    assert json.loads(encode_output(gen)) == output_to_dict(gen)


def test_the_request_nonce_is_bound_to_the_first_identity_and_replaced_for_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        assert j.unbound()
        pending = j.request_nonce(None)
        assert j.request_nonce(None) == pending  # not yet bound: the same nonce
        assert j.unbound()
        assert j.request_nonce("sha256:a") == pending  # the first identity binds it
        assert not j.unbound()
    with Journal(path) as j:
        assert j.request_nonce("sha256:a") == pending
        assert j.request_nonce(None) == pending
        other = j.request_nonce("sha256:b")  # another model: a fresh nonce
        assert other != pending
        assert j.request_nonce("sha256:b") == other
        assert j.request_nonce("sha256:a") not in (pending, other)


def test_a_journal_with_units_is_not_unbound(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record(
            "k", output=Generation("x"), error=None, error_kind=None, attempts=1,
            latency_s=0.1, run_id="r", request_key="rk",
        )  # fmt: skip
        assert not j.unbound()
        assert j.lookup(["k"])["k"].request_key == "rk"


def test_a_schema_1_journal_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE units (key TEXT PRIMARY KEY, status TEXT NOT NULL, output TEXT, error TEXT,"
        " error_kind TEXT, attempts INTEGER NOT NULL, latency_s REAL, finished_at REAL NOT NULL,"
        " run_id TEXT NOT NULL);"
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, first_start REAL NOT NULL,"
        " last_start REAL NOT NULL, invocations INTEGER NOT NULL, conditions TEXT NOT NULL);"
    )
    db.execute(
        "INSERT INTO units VALUES ('old', 'ok', ?, NULL, NULL, 1, 0.2, 1.0, 'r')",
        (encode_output(Generation("kept")),),
    )
    db.commit()
    db.close()
    with Journal(path) as j:
        entry = j.lookup(["old"])["old"]
        assert entry.output == Generation("kept")
        assert entry.request_key is None
        assert not j.unbound()  # it holds an answer: nothing may be sent before identity
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT v FROM meta WHERE k='schema'").fetchone() == ("2",)
