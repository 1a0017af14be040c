"""``llmcert bom``: a CycloneDX 1.6 ML-BOM for a model file or folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcert.errors import LlmcertError


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file, or an error naming the file (never its contents)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise LlmcertError(f"cannot read {what} {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LlmcertError(f"{what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LlmcertError(f"{what} {path} is not a JSON object")
    return data


def bom_command(
    path: Annotated[Path, typer.Argument(help="Model file (e.g. a .gguf) or model folder.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the BOM here (default: stdout).")
    ] = None,
    scan: Annotated[
        Path | None, typer.Option("--scan", help="Scan report (JSON) to link by hash.")
    ] = None,
    result: Annotated[
        list[Path] | None,
        typer.Option("--result", help="llmcert result/assessment JSON to cite (repeatable)."),
    ] = None,
) -> None:
    """Write an AI-BOM (CycloneDX 1.6 ML-BOM with a model card), validated against the schema."""
    from llmcert.supplychain.bom import build_bom, write_bom

    report = read_json_file(scan, "scan report") if scan else None
    docs = [read_json_file(p, "result") for p in result or []]
    bom = build_bom(path, scan_report=report, assessments=docs)
    if output is None:
        typer.echo(json.dumps(bom, indent=2, ensure_ascii=False))
        return
    write_bom(bom, output)
    model = bom["components"][0]
    root = next(p["value"] for p in model["properties"] if p["name"] == "llmcert:root-digest")
    typer.echo(f"bom: {output} ({model['name']}, {root})")
