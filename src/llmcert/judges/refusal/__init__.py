"""The offline refusal judge: is a response full compliance, full refusal or partial refusal?

* ``_judge``: the judge, its labels and verdicts, and the scorer that uses it;
* ``_cues``/``_features``: the cue lexicon and the positional features read from it;
* ``_model``: the small logistic refusal model and how it is fitted;
* ``_partial``: partial refusals, read from the response's shape by a rule;
* ``_agreement``: fitting the shipped weights and measuring agreement with human labels;
* :mod:`~llmcert.judges.refusal.calibration`: its held-out error rates, as shipped.
"""

from llmcert.judges.refusal._judge import (
    RefusalJudge,
    RefusalLabel,
    RefusalScorer,
    RefusalVerdict,
    default_judge,
)

__all__ = ["RefusalJudge", "RefusalLabel", "RefusalScorer", "RefusalVerdict", "default_judge"]
