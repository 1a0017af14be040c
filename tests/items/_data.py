"""Where the public dataset copies are, and what each importer should find in them."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"public dataset copies not found at {SHARED}"
)

#: importer -> (folder under the shared data, options, expected count)
CASES: dict[str, tuple[str, dict[str, object], int]] = {
    "gsm8k": ("gsm8k", {}, 1319),
    "mgsm-en": ("mgsm", {"language": "en"}, 250),
    "mgsm-zh": ("mgsm", {"language": "zh"}, 250),
    "bbh": ("bbh", {"task": "all"}, 6511),
    "truthfulqa_mc1": ("truthfulqa", {}, 790),
    "truthfulqa_mc1-v1": ("truthfulqa", {"version": "v1"}, 817),
    "safetybench_zh": ("safetybench_zh_subset", {}, 2100),
    "humaneval": ("humaneval", {}, 164),
    "humanevalplus": ("humanevalplus", {}, 164),
    "mbpp": ("mbpp", {}, 500),
    "mbppplus": ("mbppplus", {}, 378),
}


def importer_of(case: str) -> str:
    return case.split("-")[0]
