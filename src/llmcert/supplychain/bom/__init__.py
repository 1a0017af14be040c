"""AI-BOM: a CycloneDX 1.6 ML-BOM describing a model artefact (AI-STR-03 "ML-BOM").

The model is one ``machine-learning-model`` component carrying the SHA-256 of
every file, its root digest, the licence, what its files say about it, and a
``modelCard``. Scan reports and llmcert results are linked by their hash; their
figures fill the card's quantitative analysis. Every BOM built here is checked
against the official 1.6 schema before it is returned.
"""

from llmcert.supplychain.bom._bom import (
    BomInvalid,
    build_bom,
    model_facts,
    schema_errors,
    validate_bom,
    write_bom,
)

__all__ = [
    "BomInvalid",
    "build_bom",
    "model_facts",
    "schema_errors",
    "validate_bom",
    "write_bom",
]
