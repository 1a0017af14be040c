"""Judges: classifiers that label model responses for scorers and assessments.

* the refusal judge labels a (prompt, response) pair as full compliance, full
  refusal or partial refusal, in English and Chinese, with no network or key; its
  error rates against human labels ship with it (:mod:`llmcert.judges.refusal.calibration`);
* the keyword library (data, by risk) checks generated content for unsafe terms
  (:mod:`llmcert.judges.keywords`);
* the LLM judge asks any backend with a pinned, versioned rubric
  (:mod:`llmcert.judges.llm_judge`).

Only the refusal judge is imported here; the others load when named.
"""

from llmcert.judges.refusal import RefusalJudge, RefusalLabel, RefusalScorer, RefusalVerdict

__all__ = ["RefusalJudge", "RefusalLabel", "RefusalScorer", "RefusalVerdict"]
