"""Reading and writing the tables ``llmcert judge refusal`` labels in bulk.

JSONL or CSV, chosen by suffix, UTF-8 with or without a BOM. Every row must
give ``prompt`` and ``response`` as text; a row that does not is reported with
the file and line, because a silently skipped row would bias the counts.
Output is written to a temporary file beside the target and renamed, so an
interrupted run never leaves half a file under the final name.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmcert._fileio import write_text_atomic
from llmcert.errors import SpecError

Format = Literal["jsonl", "csv"]
REQUIRED = ("prompt", "response")
_SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@dataclass
class Table:
    format: Format
    columns: list[str]
    rows: list[dict[str, Any]]


def table_format(path: Path) -> Format:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(
            f"unknown table format {path.suffix or '(no suffix)'!r}; use .jsonl or .csv", path=path
        )
    return fmt


def _check_row(path: Path, line: int, row: dict[str, Any]) -> None:
    for column in REQUIRED:
        if column not in row:
            raise SpecError(f"missing column {column!r}", path=path, line=line, field=column)
        if not isinstance(row[column], str):
            raise SpecError(
                f"{column!r} must be text, not {type(row[column]).__name__}",
                path=path,
                line=line,
                field=column,
            )


def _read_jsonl(path: Path, text: str) -> Table:
    rows: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=number) from exc
        if not isinstance(row, dict):
            raise SpecError("each line must be a JSON object", path=path, line=number)
        _check_row(path, number, row)
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return Table("jsonl", list(columns), rows)


def _read_csv(path: Path, text: str) -> Table:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames
    if not header:
        raise SpecError("no header row", path=path, line=1)
    for column in REQUIRED:
        if column not in header:
            raise SpecError(
                f"missing column {column!r} (columns: {', '.join(header)})",
                path=path,
                line=1,
                field=column,
            )
    rows: list[dict[str, Any]] = []
    for row in reader:
        if None in row:
            raise SpecError("more fields than header columns", path=path, line=reader.line_num)
        if any(row[c] is None for c in REQUIRED):
            raise SpecError("fewer fields than header columns", path=path, line=reader.line_num)
        rows.append(dict(row))
    return Table("csv", list(header), rows)


def read_table(path: Path) -> Table:
    fmt = table_format(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 (byte {exc.start})", path=path) from exc
    return _read_jsonl(path, text) if fmt == "jsonl" else _read_csv(path, text)


def _render(fmt: Format, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    lines: list[str] = []

    class _Sink:
        def write(self, s: str) -> None:
            lines.append(s)

    writer = csv.DictWriter(_Sink(), fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return "".join(lines)


def write_table(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write atomically in the format the suffix of ``path`` names."""
    write_text_atomic(path, _render(table_format(path), columns, rows))
