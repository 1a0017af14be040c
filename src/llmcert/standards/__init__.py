"""Standards as code: risk taxonomies and crosswalks from dataset labels to them."""

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
    "Crosswalk",
    "CrosswalkEntry",
    "Expectation",
    "Risk",
    "RiskCategory",
    "Taxonomy",
    "UnmappedLabel",
    "available_crosswalks",
    "load_crosswalk",
    "load_crosswalk_file",
    "load_taxonomy",
    "load_taxonomy_file",
]
