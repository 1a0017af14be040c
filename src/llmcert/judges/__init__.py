"""Judges: offline classifiers that label model responses for scorers and reports.

The refusal judge labels a (prompt, response) pair as full compliance, full
refusal or partial refusal, in English and Chinese, with no network or key.
"""

from llmcert.judges.refusal import RefusalJudge, RefusalLabel, RefusalScorer, RefusalVerdict

__all__ = ["RefusalJudge", "RefusalLabel", "RefusalScorer", "RefusalVerdict"]
