"""The offline harmful-content judge (``llmcert-harm``), English and Chinese.

* ``_features``: hashed word/character n-grams of the prompt and response;
* ``_model``: the harm and risk heads, their fitting and their ``.npz`` weights;
* ``_judge``: the judge, combining the harm head with the refusal judge;
* ``_training``: the training and held-out-by-source procedure the shipped weights
  and their calibration come from.
"""

from llmcert.judges.harm._judge import HarmJudge, HarmLabel, HarmVerdict, default_harm_judge

__all__ = ["HarmJudge", "HarmLabel", "HarmVerdict", "default_harm_judge"]
