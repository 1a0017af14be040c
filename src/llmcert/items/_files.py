"""Item files: JSONL, CSV or JSON rows turned into items, with exact error locations.

Item files are written by hand, so every problem is reported with the file, the
line the row starts on and the field to fix, instead of failing later in a run.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmcert.errors import SpecError
from llmcert.items._item import Item

ITEM_FIELDS = ("id", "input", "target", "choices", "answer_index")
SUFFIXES = (".jsonl", ".csv", ".json")

Row = tuple[int, dict[str, Any]]  # (line the row starts on, its cells)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in item files")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)
_JSON_SPACE = " \t\n\r"
_WHOLE = re.compile(r"-?[0-9]+")


def _decode_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("item file not found", path=path) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError("not valid UTF-8", path=path, line=line) from exc


class _Lines:
    """Line numbers of positions that only move forward: linear, not quadratic, in file size."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _jsonl_rows(text: str, path: Path) -> Iterator[Row]:
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = _DECODER.decode(line)
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise SpecError(f"not valid JSON: {msg}", path=path, line=lineno) from exc
        if not isinstance(row, dict):
            raise SpecError("each line must be a JSON object", path=path, line=lineno)
        yield lineno, row


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_SPACE:
        pos += 1
    return pos


def _json_rows(text: str, path: Path) -> Iterator[Row]:
    """Walk a JSON array element by element so each row knows its line."""
    lines = _Lines(text)
    pos = _skip_space(text, 0)
    if pos == len(text):
        return
    if text[pos] != "[":
        raise SpecError("expected a JSON array of objects", path=path, line=lines.at(pos))
    pos = _skip_space(text, pos + 1)
    first = True
    while True:
        if pos < len(text) and text[pos] == "]" and first:
            pos += 1
            break
        start = pos
        try:
            row, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
        except ValueError as exc:
            raise SpecError(f"not valid JSON: {exc}", path=path, line=lines.at(start)) from exc
        if not isinstance(row, dict):
            raise SpecError("each element must be a JSON object", path=path, line=lines.at(start))
        yield lines.at(start), row
        first = False
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            pos += 1
            break
        raise SpecError("expected ',' or ']' in the array", path=path, line=lines.at(pos))
    if _skip_space(text, pos) != len(text):
        raise SpecError("unexpected data after the array", path=path, line=lines.at(pos))


def _csv_rows(text: str, path: Path) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not cells or all(not c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                seen: set[str] = set()
                for name in header:
                    if not name or name in seen:
                        what = "an empty column name" if not name else "a duplicate column"
                        raise SpecError(
                            f"header has {what}", path=path, line=line, field=name or None
                        )
                    seen.add(name)
                continue
            if len(cells) != len(header):
                raise SpecError(
                    f"row has {len(cells)} cells but the header has {len(header)}",
                    path=path,
                    line=line,
                )
            yield line, dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise SpecError(f"not valid CSV: {exc}", path=path, line=start) from exc


def _column_map(fields: Mapping[str, str] | None, path: Path) -> dict[str, str]:
    columns = {f: f for f in ITEM_FIELDS}
    for key, column in (fields or {}).items():
        if key not in ITEM_FIELDS:
            raise SpecError(
                f"can map only {', '.join(ITEM_FIELDS)}; not {key!r}", path=path, field="fields"
            )
        columns[key] = column
    return columns


class _RowReader:
    """Converts one row's cells to item fields; CSV cells are text and need decoding."""

    def __init__(self, row: dict[str, Any], path: Path, line: int, from_text: bool) -> None:
        self.row, self.path, self.line, self.from_text = row, path, line, from_text

    def fail(self, column: str, message: str) -> SpecError:
        return SpecError(message, path=self.path, line=self.line, field=column)

    def get(self, column: str) -> Any:
        value = self.row.get(column)
        if self.from_text and isinstance(value, str) and not value.strip():
            return None  # an empty CSV cell means "not given"
        return value

    def text(self, column: str, *, required: bool) -> str | None:
        value = self.get(column)
        if value is None:
            if required:
                raise self.fail(column, "required field is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(column, f"must be text, not {type(value).__name__}")
        value = str(value)
        if required and not value.strip():
            raise self.fail(column, "must not be empty")
        return value

    def choices(self, column: str) -> tuple[str, ...]:
        value = self.get(column)
        if value is None:
            return ()
        if self.from_text:
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise self.fail(column, f"must be a JSON list of strings: {exc.msg}") from exc
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise self.fail(column, "must be a list of strings")
        if len(value) < 2:
            raise self.fail(column, "needs at least two choices")
        return tuple(value)

    def index(self, column: str, n_choices: int) -> int | None:
        value = self.get(column)
        if value is None:
            return None
        if self.from_text:
            if not _WHOLE.fullmatch(value.strip()):
                raise self.fail(column, f"must be a whole number, not {value!r}")
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(column, f"must be a whole number, not {value!r}")
        if n_choices == 0:
            raise self.fail(column, "is given but the item has no choices")
        if not 0 <= value < n_choices:
            raise self.fail(
                column, f"{value} is out of range for {n_choices} choices (0-{n_choices - 1})"
            )
        return value


def _to_item(reader: _RowReader, columns: Mapping[str, str], default_id: str) -> Item:
    raw_id = reader.text(columns["id"], required=False)
    if raw_id is not None and not raw_id.strip():
        raise reader.fail(columns["id"], "must not be empty")
    text = reader.text(columns["input"], required=True)
    assert text is not None
    choices = reader.choices(columns["choices"])
    used = set(columns.values())
    metadata: dict[str, Any] = {}
    nested = reader.row.get("metadata")
    if "metadata" not in used and isinstance(nested, dict):
        metadata.update(nested)
        used.add("metadata")
    metadata.update({k: v for k, v in reader.row.items() if k not in used})
    return Item(
        id=raw_id if raw_id is not None else default_id,
        input=text,
        target=reader.text(columns["target"], required=False),
        choices=choices,
        answer_index=reader.index(columns["answer_index"], len(choices)),
        metadata=metadata,
    )


def read_item_file(path: Path, fields: Mapping[str, str] | None = None) -> list[Item]:
    """Read items from a ``.jsonl``, ``.csv`` or ``.json`` file.

    ``fields`` maps an item field to the column holding it (``{"input":
    "prompt"}``); columns that are not item fields become metadata. Rows without
    an id get ``<file stem>-<row number>``, stable as long as rows keep their order.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError(
            f"unsupported item file type {path.suffix!r} (use {', '.join(SUFFIXES)})", path=path
        )
    columns = _column_map(fields, path)
    text = _decode_text(path)
    rows = {".jsonl": _jsonl_rows, ".csv": _csv_rows, ".json": _json_rows}[suffix](text, path)
    items: list[Item] = []
    first_line: dict[str, int] = {}
    for n, (line, row) in enumerate(rows, 1):
        item = _to_item(_RowReader(row, path, line, suffix == ".csv"), columns, f"{path.stem}-{n}")
        if item.id in first_line:
            raise SpecError(
                f"duplicate id {item.id!r} (first on line {first_line[item.id]})",
                path=path,
                line=line,
                field=columns["id"],
            )
        first_line[item.id] = line
        items.append(item)
    if not items:
        raise SpecError("the file holds no items", path=path)
    return items
