"""Statistics for honest figures: intervals over items and per-metric summaries.

Pure and synchronous. numpy and scipy are imported inside the functions that use
them, so importing this package stays cheap for the command line.
"""

from llmcert.stats._intervals import (
    clopper_pearson_interval,
    cluster_bootstrap_interval,
    wilson_interval,
)
from llmcert.stats._summary import Method, summarize

__all__ = [
    "Method",
    "clopper_pearson_interval",
    "cluster_bootstrap_interval",
    "summarize",
    "wilson_interval",
]
