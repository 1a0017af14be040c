"""Statistics for honest figures: intervals, per-metric summaries, decision rules
(point estimate, confidence bound, anytime-valid sequential, judge-corrected bound (also
on "any of k" rates),
AILuminate-style grades, latency quantiles on order-statistic bounds, measured-only
limits) and sample-size planning.

Pure and synchronous. numpy and scipy are imported inside the functions that use
them, so importing this package stays cheap for the command line.
"""

from llmcert.stats._anyof import AnyOfBound, any_of_interval
from llmcert.stats._between import between_source_summary, new_source_bounds
from llmcert.stats._correction import (
    CorrectedBound,
    JudgeErrorRates,
    corrected_interval,
    rogan_gladen,
)
from llmcert.stats._decision import (
    ConfidenceBound,
    Counts,
    Decision,
    DecisionRule,
    Direction,
    ErrorPolicy,
    PointEstimate,
    Verdict,
)
from llmcert.stats._estimate import (
    Estimate,
    EstimateBound,
    item_mean_estimate,
    pass_at_k,
    pass_at_k_estimate,
)
from llmcert.stats._graded import Grade, Graded, grade_for
from llmcert.stats._intervals import (
    clopper_pearson_interval,
    cluster_bootstrap_interval,
    wilson_interval,
)
from llmcert.stats._planning import (
    SequentialOutlook,
    items_needed,
    sequential_items_needed,
    sequential_outlook,
    verdict_probabilities,
)
from llmcert.stats._quantile import (
    MeasuredLimit,
    Provenance,
    QuantileBound,
    quantile,
    quantile_bounds,
)
from llmcert.stats._sequential import Sequential, SequentialTest
from llmcert.stats._summary import Method, summarize

__all__ = [
    "AnyOfBound",
    "ConfidenceBound",
    "CorrectedBound",
    "Counts",
    "Decision",
    "DecisionRule",
    "Direction",
    "ErrorPolicy",
    "Estimate",
    "EstimateBound",
    "Grade",
    "Graded",
    "JudgeErrorRates",
    "MeasuredLimit",
    "Method",
    "PointEstimate",
    "Provenance",
    "QuantileBound",
    "Sequential",
    "SequentialOutlook",
    "SequentialTest",
    "Verdict",
    "any_of_interval",
    "between_source_summary",
    "clopper_pearson_interval",
    "cluster_bootstrap_interval",
    "corrected_interval",
    "grade_for",
    "item_mean_estimate",
    "items_needed",
    "new_source_bounds",
    "pass_at_k",
    "pass_at_k_estimate",
    "quantile",
    "quantile_bounds",
    "rogan_gladen",
    "sequential_items_needed",
    "sequential_outlook",
    "summarize",
    "verdict_probabilities",
    "wilson_interval",
]
