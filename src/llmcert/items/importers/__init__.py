"""Dataset importers: public benchmarks turned into items with stable ids.

Each importer reads the upstream files exactly as published, from a local copy
(``--data PATH``) or, when no path is given, from a pinned revision of their
public home, cached and checksummed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from llmcert.errors import SpecError
from llmcert.items._hub import Fetch, cache_root, ensure_files
from llmcert.items._item import Item
from llmcert.items.importers._base import Importer, Option
from llmcert.items.importers.bbh import IMPORTER as _BBH
from llmcert.items.importers.code import HUMANEVAL, HUMANEVAL_PLUS, MBPP, MBPP_PLUS
from llmcert.items.importers.gsm8k import IMPORTER as _GSM8K
from llmcert.items.importers.mgsm import IMPORTER as _MGSM
from llmcert.items.importers.safetybench import IMPORTER as _SAFETYBENCH
from llmcert.items.importers.truthfulqa import IMPORTER as _TRUTHFULQA

_REGISTRY: Mapping[str, Importer] = MappingProxyType(
    {
        imp.name: imp
        for imp in (
            *(_GSM8K, _MGSM, _BBH, _TRUTHFULQA, _SAFETYBENCH),
            *(HUMANEVAL, HUMANEVAL_PLUS, MBPP, MBPP_PLUS),
        )
    }
)

#: Names of the built-in importers, for ``items.importer`` in a suite file.
IMPORTERS: tuple[str, ...] = tuple(sorted(_REGISTRY))


def get_importer(name: str) -> Importer:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SpecError(
            f"unknown importer {name!r}; known importers: {', '.join(IMPORTERS)}",
            field="items.importer",
        ) from None


def import_dataset(
    name: str,
    path: Path | None,
    options: Mapping[str, Any],
    *,
    fetch: Fetch | None = None,
    cache_dir: Path | None = None,
) -> list[Item]:
    """Items of dataset ``name`` from ``path``, or from the cached upstream files.

    ``fetch`` and ``cache_dir`` replace the HTTP download and the cache location
    (tests serve files from memory through them).
    """
    importer = get_importer(name)
    opts = importer.resolve_options(options)
    if path is None:
        dest = (cache_dir or cache_root()) / importer.folder / importer.revision[:12]
        path = ensure_files(importer.name, importer.remote(opts), dest, fetch)
    elif not path.exists():
        raise SpecError(f"no local copy of the {name} dataset here", path=path, field="items.path")
    items = importer.parse(path, opts)
    if not items:
        raise SpecError(f"the {name} dataset files hold no items", path=path, field="items.path")
    return items


__all__ = ["IMPORTERS", "Importer", "Option", "get_importer", "import_dataset"]
