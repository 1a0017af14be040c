"""Time and peak memory of ``llmcert scan`` on the worst case of each format.

Each case is generated into a temporary directory (never loaded), then scanned
in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is the
scan's own plus the interpreter's; the same subprocess reports an empty scan's
baseline so the difference can be read off. Cases:

- ``gguf-1M-empty-strings``: a valid GGUF whose metadata is one array of a million
  empty strings (8 MB), the case that took 40-100 s in the reference reader.
- ``pickle-12M-opcodes``: a valid 12 MB pickle of 12 million opcodes
  (``NONE``/``POP`` pairs that never grow the stack).
- ``pickle-list-6M``: a list of 6 million small ints built with ``APPENDS``
  (stack grows to the reader's limit).
- ``safetensors-100MB-header``: 100 MB of header JSON (a million tensors).
- ``npz-10k-members``: a NumPy archive of 10,000 small arrays.
- ``template-1MB``: a chat template of 1 MB of nested conditions.

    python bench/scan_worst_cases.py            # every case once
    python bench/scan_worst_cases.py --only gguf
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

_PROBE = r"""
import json, resource, sys, time
from llmcert.supplychain.scan import scan_path
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
report = scan_path(sys.argv[1])
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mib": after.ru_maxrss / 1024,
                  "baseline_mib": before.ru_maxrss / 1024,
                  "format": report.files[0].format, "blocking": report.blocking,
                  "ids": sorted({f.id for f in report.findings if f.severity.value != "info"})}))
"""


def gguf_empty_strings(path: Path, count: int = 1_000_000) -> None:
    key = b"tokenizer.ggml.tokens"
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    body += struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, count)
    with path.open("wb") as fh:
        fh.write(body)
        fh.write(struct.pack("<Q", 0) * count)
        fh.write(b"\x00" * (-(len(body) + 8 * count) % 32))


def pickle_opcodes(path: Path, pairs: int = 6_000_000) -> None:
    path.write_bytes(b"\x80\x02" + b"N0" * pairs + b"N.")


def pickle_list(path: Path, items: int = 6_000_000) -> None:
    path.write_bytes(b"\x80\x02](" + b"K\x01" * items + b"e.")


def safetensors_header(path: Path, tensors: int = 1_000_000) -> None:
    header = {f"layer.{i}.w": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
              for i in range(tensors)}  # fmt: skip
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.write(b"\x00" * 4 * tensors)


def npz_members(path: Path, members: int = 10_000) -> None:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 16
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(members):
            zf.writestr(f"a{i}.npy", npy)


def big_template(path: Path, branches: int = 12_000) -> None:
    body = "".join(
        f"{{% if message.role == 'r{i}' %}}{{{{ '<|r{i}|>' + message.content }}}}{{% endif %}}"
        for i in range(branches)
    )
    path.write_text("{% for message in messages %}" + body + "{% endfor %}", encoding="utf-8")


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "gguf-1M-empty-strings": ("model.gguf", gguf_empty_strings),
    "pickle-12M-opcodes": ("model.pkl", pickle_opcodes),
    "pickle-list-6M": ("list.pkl", pickle_list),
    "safetensors-100MB-header": ("model.safetensors", safetensors_header),
    "npz-10k-members": ("arrays.npz", npz_members),
    "template-1MB": ("chat_template.jinja", big_template),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--build", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        CASES[args.build[0]][1](Path(args.build[1]))
        return
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")
    print(
        "| case | size | wall | CPU | peak RSS | baseline RSS | CPU s/MB | MiB/MB | findings above info |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (filename, _) in CASES.items():
            if args.only not in name:
                continue
            path = Path(tmp) / filename
            # Built in a child too: the peak-RSS counter survives exec, so the parent stays small.
            subprocess.run([sys.executable, __file__, "--build", name, str(path)], check=True)
            mb = path.stat().st_size / 1e6
            out = subprocess.run(
                [sys.executable, "-c", _PROBE, str(path)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = r["peak_mib"] - r["baseline_mib"]
            print(
                f"| {name} | {mb:.1f} MB | {r['seconds']:.2f} s | {r['cpu']:.2f} s "
                f"| {r['peak_mib']:.0f} MiB | {r['baseline_mib']:.0f} MiB | {r['cpu'] / mb:.3f} "
                f"| {extra / mb:.1f} "
                f"| {', '.join(r['ids']) or 'none'} |",
                flush=True,
            )
            path.unlink()


if __name__ == "__main__":
    main()
