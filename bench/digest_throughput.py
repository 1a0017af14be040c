"""Throughput of llmcert's file digest against ``sha256sum`` on the same multi-GB file.

Caches cannot be dropped without root, so the file is read once first and every
timed run hits the page cache; runs alternate between the two tools so drift
hits both alike. Reports the median of each and the ratio of throughputs
(> 1 means llmcert is faster). Also times a folder of several files through
``digest_tree`` (parallel threads).

    python bench/digest_throughput.py              # 2 GiB, 3 runs each
    python bench/digest_throughput.py --size-gib 4 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llmcert.supplychain.identity import digest_file, digest_tree

_CHUNK = 16 << 20


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(_CHUNK, left)
            fh.write(os.urandom(n))
            left -= n


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True)
    return "sha256:" + out.stdout.split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size-gib", type=float, default=2.0, help="file size in GiB (default 2)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool (default 3)")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the temporary file")
    args = ap.parse_args()
    size = int(args.size_gib * (1 << 30))
    with tempfile.TemporaryDirectory(prefix="llmcert-digest-", dir=args.dir) as tmp:
        path = Path(tmp) / "model.bin"
        write_random(path, size)
        assert sha256sum(path) == digest_file(path), "digests differ"
        tools: dict[str, Callable[[], object]] = {
            "sha256sum": lambda: sha256sum(path),
            "digest_file": lambda: digest_file(path),
        }
        times: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(args.runs):
            for name, fn in tools.items():
                times[name].append(timed(fn))
        gib = size / (1 << 30)
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        print(f"file: {gib:.2f} GiB, page cache warm, {args.runs} runs each (median)")
        for name, t in medians.items():
            print(
                f"  {name:22s} {t:7.3f} s  {gib / t:6.2f} GiB/s  runs={[round(x, 3) for x in times[name]]}"
            )
        ratio = medians["sha256sum"] / medians["digest_file"]
        print(f"throughput ratio digest_file / sha256sum = {ratio:.2f}x (target >= 0.9x)")

        folder = Path(tmp) / "shards"
        folder.mkdir()
        n_shards = 4
        for i in range(n_shards):
            (folder / f"part-{i}.bin").write_bytes(os.urandom(min(size // n_shards, 256 << 20)))
        digest_tree(folder)  # warm the page cache
        serial = statistics.median(
            timed(lambda: digest_tree(folder, workers=1)) for _ in range(args.runs)
        )
        parallel = statistics.median(timed(lambda: digest_tree(folder)) for _ in range(args.runs))
        print(
            f"digest_tree on {n_shards} files: serial {serial:.3f} s, parallel "
            f"({os.cpu_count()} threads) {parallel:.3f} s, speed-up {serial / parallel:.2f}x"
        )


if __name__ == "__main__":
    main()
