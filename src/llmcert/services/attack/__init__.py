"""The attack service: WDTA AI-STR-02 attacks (L1, L2 static; L3 adaptive) on a model.

Orchestration only (``_run``): check the request, identify the model while the bank is
read and every static prompt rendered, run what the journal lacks through the engine,
judge every answer three ways (``_judge``), run the adaptive attacks step by step over
the journal (``_adaptive``), summarise R and D and write the reports (``_result``).
Rerunning the same command resumes: answered units are read from the journal.
"""

from llmcert.services.attack._request import AttackOutcome, AttackRequest
from llmcert.services.attack._run import RUNNABLE_LEVELS, attack, attack_sync, check_request

__all__ = [
    "RUNNABLE_LEVELS",
    "AttackOutcome",
    "AttackRequest",
    "attack",
    "attack_sync",
    "check_request",
]
