"""Attacks (WDTA AI-STR-02): transforms of harmful behaviours, judged three ways.

An :class:`Attack` is named, versioned and levelled (L1 random, L2 blind-box, …);
its digest is part of every work unit's key (:mod:`llmcert.attacks._plan`), so
attack runs are exactly-once and resumable like evaluations. Responses are judged
success / decline / harmless / unscorable (:mod:`llmcert.attacks._judging`) and
summarised as R and D with intervals (:mod:`llmcert.attacks._metrics`).
"""

from llmcert.attacks._attack import Attack, Level, Transform, attack_seed
from llmcert.attacks._banks import SOURCES, BehaviourSource, load_behaviours
from llmcert.attacks._catalog import (
    builtin_attacks,
    library_versions,
    parse_levels,
    select_attacks,
)
from llmcert.attacks._judging import (
    AttackJudge,
    Calibration,
    HarmJudge,
    HarmLabel,
    HarmVerdict,
    Judgement,
    Outcome,
    ResponseJudge,
    load_harm_judge,
)
from llmcert.attacks._metrics import (
    AttackRecord,
    GroupSummary,
    Rate,
    breach_counts,
    breach_items,
    breach_rate,
    most_effective,
    summarise,
    summarise_group,
)
from llmcert.attacks._plan import (
    AttackCase,
    AttackPlan,
    applicable,
    attack_request_key,
    attack_unit_key,
    behaviour_language,
    messages_digest,
    plan_cases,
)
from llmcert.attacks.adaptive import (
    SCORED,
    AdaptiveAttack,
    Step,
    attacker_messages,
    builtin_adaptive,
    next_prompt,
)
from llmcert.attacks.whitebox import WhiteBoxAttack, builtin_whitebox

__all__ = [
    "SCORED",
    "SOURCES",
    "AdaptiveAttack",
    "Attack",
    "AttackCase",
    "AttackJudge",
    "AttackPlan",
    "AttackRecord",
    "BehaviourSource",
    "Calibration",
    "GroupSummary",
    "HarmJudge",
    "HarmLabel",
    "HarmVerdict",
    "Judgement",
    "Level",
    "Outcome",
    "Rate",
    "ResponseJudge",
    "Step",
    "Transform",
    "WhiteBoxAttack",
    "applicable",
    "attack_request_key",
    "attack_seed",
    "attack_unit_key",
    "attacker_messages",
    "behaviour_language",
    "breach_counts",
    "breach_items",
    "breach_rate",
    "builtin_adaptive",
    "builtin_attacks",
    "builtin_whitebox",
    "library_versions",
    "load_behaviours",
    "load_harm_judge",
    "messages_digest",
    "most_effective",
    "next_prompt",
    "parse_levels",
    "plan_cases",
    "select_attacks",
    "summarise",
    "summarise_group",
]
