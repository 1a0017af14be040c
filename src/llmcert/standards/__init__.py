"""Standards as code: standard specs, risk taxonomies, crosswalks from dataset labels, test banks.

The standard format itself (``StandardSpec``, the catalogue and the diff) lives in the private
modules ``_spec``, ``_catalog`` and ``_diff`` and is used through ``llmcert standards``.
"""

from llmcert.standards.banks import (
    BankKind,
    BankManifest,
    CoverageReport,
    RiskCoverage,
    coverage,
    dedupe,
    gbt45654_minimums,
    import_bank,
    read_bank,
    seal,
    stratified_sample,
    verify_seal,
)
from llmcert.standards.taxonomy import (
    Crosswalk,
    CrosswalkEntry,
    Expectation,
    Risk,
    RiskCategory,
    Taxonomy,
    UnmappedLabel,
    available_crosswalks,
    load_crosswalk,
    load_crosswalk_file,
    load_taxonomy,
    load_taxonomy_file,
)

__all__ = [
    "BankKind",
    "BankManifest",
    "CoverageReport",
    "Crosswalk",
    "CrosswalkEntry",
    "Expectation",
    "Risk",
    "RiskCategory",
    "RiskCoverage",
    "Taxonomy",
    "UnmappedLabel",
    "available_crosswalks",
    "coverage",
    "dedupe",
    "gbt45654_minimums",
    "import_bank",
    "load_crosswalk",
    "load_crosswalk_file",
    "load_taxonomy",
    "load_taxonomy_file",
    "read_bank",
    "seal",
    "stratified_sample",
    "verify_seal",
]
