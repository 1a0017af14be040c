"""Readers for the judge-development datasets in ``../shared/data`` (bench only).

The product never reads these: the benches fit weights and measure agreement
from them, and store only numbers. Each reader tags every example with its
source, so that figures can be held out by source. Licences are recorded in
``LICENCES`` and copied into the shipped weights' description.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from llmcert.judges.harm._training import HarmExample, PromptExample, RiskExample
from llmcert.standards.taxonomy import load_crosswalk, load_taxonomy

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

#: Training sets of the harm judge, their licences, and whether weights fitted on
#: them may ship (every one is a permissive licence that allows derived numbers).
LICENCES = {
    "gptfuzz": ("GPTFuzz labelled responses (sherdencooper/GPTFuzz)", "MIT"),
    "self-defense": ("LLM Self Defense responses (poloclub/llm-self-defense)", "BSD-3-Clause"),
    "openai-moderation": ("OpenAI moderation API release (openai/moderation-api-release)", "MIT"),
    "jade-v3": ("JADE-DB v3.0 alignment triples (whitzard-ai/jade-db)", "MIT"),
    "cold": ("COLD dev split (thu-coai/COLDataset)", "Apache-2.0"),
    "harmbench": ("HarmBench text behaviours (centerforaisafety/HarmBench)", "MIT"),
    "jade-prompts": ("JADE-DB v1.0/v2.0 prompts (whitzard-ai/jade-db)", "MIT"),
    "jbb": ("JailbreakBench artifacts (JailbreakBench/artifacts)", "MIT"),
    "gsm8k": ("GSM8K test questions and worked answers (openai/grade-school-math)", "MIT"),
    "mgsm": ("MGSM questions, Chinese and English (google-research/url-nlp)", "CC-BY-4.0"),
    "advbench": ("AdvBench harmful behaviours (llm-attacks/llm-attacks)", "MIT"),
    "xstest": ("XSTest v2 prompts (paul-rottger/exaggerated-safety)", "CC-BY-4.0"),
    "coconot": ("CoCoNot prompts (allenai/noncompliance)", "MIT"),
    "truthfulqa": ("TruthfulQA questions (sylinrl/TruthfulQA)", "Apache-2.0"),
    "xstest-completions": (
        "XSTest v2 human-labelled completions, gpt4 and llama2orig (paul-rottger/exaggerated-safety)",
        "prompts CC-BY-4.0; completions under the model providers' terms (numbers only)",
    ),
    "safetybench-zh": ("SafetyBench Chinese test subset, questions (thu-coai/SafetyBench)", "MIT"),
    "mbpp": ("MBPP task descriptions (google-research/mbpp)", "CC-BY-4.0"),
    "jailbench": ("JailBench seed questions (gitkolento/JailBench)", "MIT"),
    "multijail": ("MultiJail harmful prompts, zh and en (DAMO-NLP-SG/multilingual-safety)", "MIT"),
}
#: The training set (a key of LICENCES) each example source belongs to, where the names differ.
TRAINING_SET = {
    "self-defense-gpt": "self-defense",
    "self-defense-llama": "self-defense",
    "gsm8k-questions": "gsm8k",
    "mgsm-questions": "mgsm",
    "mgsm-zh": "mgsm",
    "xstest-gpt4": "xstest-completions",
    "xstest-llama2orig": "xstest-completions",
}


def training_set(source: str) -> str:
    return TRAINING_SET.get(source, source)


#: Sources of responses to prompts: the judge's task, and what it is calibrated on
#: (COLD and the moderation set are text-only content, used to train the content head).
RESPONSE_SOURCES = frozenset(
    {
        "gptfuzz",
        "self-defense-gpt",
        "self-defense-llama",
        "jade-v3",
        "gsm8k",
        "mgsm-zh",
        "xstest-gpt4",
        "xstest-llama2orig",
    }
)
#: Sources only ever judged, never fitted on: JailbreakBench's labels are its judge
#: model's, not people's; the XSTest answers, fitted on, teach the content head that
#: instructions on edgy-sounding topics are harmless and cost a third of GPTFuzz's
#: harmful answers (held out), so they test how the judge reads such answers instead.
TEST_ONLY = frozenset({"jbb", "xstest-gpt4", "xstest-llama2orig"})
#: Prompt sets a harm source was built from: held out together with it.
RELATED = {
    "jade-v3": frozenset({"jade-prompts"}),
    "self-defense-gpt": frozenset({"advbench"}),
    "self-defense-llama": frozenset({"advbench"}),
    "gsm8k": frozenset({"gsm8k-questions"}),
    "mgsm-zh": frozenset({"mgsm-questions"}),
    "xstest-gpt4": frozenset({"xstest"}),
    "xstest-llama2orig": frozenset({"xstest"}),
}

_FILES: list[Path] = []


def _open(path: Path, encoding: str = "utf-8-sig") -> Iterator[dict[str, str]]:
    _FILES.append(path)
    with path.open(encoding=encoding, newline="") as fh:
        yield from csv.DictReader(fh)


def data_digest() -> str:
    """sha256 over the names and bytes of every file read so far, in sorted order."""
    return files_digest(_FILES)


def files_digest(paths: Iterable[Path]) -> str:
    """sha256 over the names (relative to the data directory, where they are under it) and
    bytes of ``paths``: the same files give the same digest wherever the data is kept."""
    h = hashlib.sha256()
    for path in sorted(set(paths)):
        name = path.relative_to(DATA) if path.is_relative_to(DATA) else Path(path.name)
        h.update(str(name).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def gptfuzz() -> list[HarmExample]:
    base = DATA / "gptfuzz_labeled_responses" / "datasets"
    questions = {r["index"]: r["text"] for r in _open(base / "questions" / "question_list.csv")}
    out = []
    for split in ("train", "evaluate"):
        for r in _open(base / "responses_labeled" / f"{split}.csv"):
            out.append(
                HarmExample(
                    questions[r["question"]], r["Response"], r["label"] == "1", "gptfuzz", "en"
                )
            )
    return out


def self_defense() -> list[HarmExample]:
    out = []
    for model in ("gpt", "llama"):
        path = DATA / "llm_self_defense" / f"all_repsonses_{model}.csv"
        for r in _open(path):
            harmful = r["is harmful?"].strip().lower().startswith("yes")
            out.append(
                HarmExample(r["prompt"], r["response"], harmful, f"self-defense-{model}", "en")
            )
    return out


def moderation() -> list[HarmExample]:
    path = DATA / "openai_moderation" / "data" / "samples-1680.jsonl.gz"
    _FILES.append(path)
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            flags = [v for k, v in row.items() if k != "prompt"]
            out.append(
                HarmExample(
                    "", row["prompt"], any(v == 1 for v in flags), "openai-moderation", "en"
                )
            )
    return out


def jade_v3() -> list[HarmExample]:
    out = []
    for level in ("hard", "medium"):
        path = DATA / "jade_db_zh" / "jade-db-v3.0" / f"jade_alignment_{level}_zh.csv"
        for r in _open(path, encoding="gb18030"):
            q = r["问题"]
            out.append(HarmExample(q, r["违规回答"], True, "jade-v3", "zh"))
            out.append(HarmExample(q, r["安全有用回答"], False, "jade-v3", "zh"))
    return out


def jade_v3_refusals() -> list[tuple[str, str, str]]:
    """JADE-DB v3 as refusal data: (question, answer, label) with the safe answer a refusal."""
    out = []
    for level in ("hard", "medium"):
        path = DATA / "jade_db_zh" / "jade-db-v3.0" / f"jade_alignment_{level}_zh.csv"
        for r in _open(path, encoding="gb18030"):
            out.append((r["问题"], r["违规回答"], "full_compliance"))
            out.append((r["问题"], r["安全有用回答"], "full_refusal"))
    return out


def cold() -> list[HarmExample]:
    path = DATA / "cold_zh" / "COLDataset" / "dev.csv"
    return [HarmExample("", r["TEXT"], r["label"] == "1", "cold", "zh") for r in _open(path)]


def jbb() -> list[HarmExample]:
    """JailbreakBench artifacts: labels are a judge model's, not humans' (test only)."""
    out = []
    for path in sorted((DATA / "jbb_artifacts" / "attack-artifacts").glob("*/*/*.json")):
        _FILES.append(path)
        for j in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            if not j.get("response"):
                continue
            prompt = j.get("prompt") or j["goal"]
            out.append(HarmExample(prompt, j["response"], bool(j["jailbroken"]), "jbb", "en"))
    return out


def risk_examples() -> list[RiskExample]:
    """Prompts with GB/T 45654 risks, through the repository's crosswalks."""
    out: list[RiskExample] = []
    hb = load_crosswalk("harmbench")
    for r in _open(DATA / "harmbench" / "harmbench_behaviors_text_all.csv"):
        for risk in hb.map(r["SemanticCategory"]):
            out.append(RiskExample(r["Behavior"], "", risk, "harmbench"))
    jade = load_crosswalk("jade-db")
    files = [
        DATA / "jade_db" / "jade-db-v1.0" / "jade_benchmark_zh.csv",
        DATA / "jade_db" / "jade-db-v1.0" / "jade_benchmark_en.csv",
        DATA / "jade_db" / "jade-db-v2.0" / "jade_benchmark_easy_zh.csv",
        DATA / "jade_db" / "jade-db-v2.0" / "jade_benchmark_medium_zh.csv",
    ]
    for path in files:
        for r in _open(path):
            for risk in jade.map(r["违规类型"], r["违规子类"]):
                out.append(RiskExample(r["问题"], "", risk, "jade-prompts"))
    # JailBench's sub-domains are the GB/T 45654 risk names themselves.
    by_name = {risk.name_zh: risk.id for risk in load_taxonomy().risks}
    for r in _open(DATA / "jailbench_zh" / "JailBench_seed.csv"):
        if r["二级领域"] in by_name:
            out.append(RiskExample(r["question_zh"], "", by_name[r["二级领域"]], "jailbench"))
    return out


def benign_answers() -> list[HarmExample]:
    """Harmless helpful text: GSM8K worked answers (en) and MGSM questions (zh, as text)."""
    out = []
    path = DATA / "gsm8k" / "test.jsonl"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.append(HarmExample(row["question"], row["answer"], False, "gsm8k", "en"))
    path = DATA / "mgsm" / "mgsm_zh.tsv"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("\t")[0]
        out.append(HarmExample("", text, False, "mgsm-zh", "zh"))
    return out


def xstest_answers() -> list[HarmExample]:
    """Two chat models' answers to XSTest's safe prompts: harmless by construction.

    The prompts are safe questions that sound unsafe ("How do I kill a Python
    process?"), so their answers (compliance, refusal or partial) are harmless
    helpful text on edgy-sounding topics, which no other source gives in English.
    Answers to the unsafe contrast prompts are left out: whether those are harmful
    is not what XSTest's labels say.
    """
    out = []
    for model in ("gpt4", "llama2orig"):
        path = DATA / "xstest_completions_dev" / f"xstest_v2_completions_{model}.csv"
        for r in _open(path):
            if not r["type"].startswith("contrast_"):
                out.append(
                    HarmExample(r["prompt"], r["completion"], False, f"xstest-{model}", "en")
                )
    return out


#: SafetyBench categories whose questions quote no offensive or biased text.
_SAFETYBENCH_PLAIN = frozenset(
    {
        "Physical Health",
        "Mental Health",
        "Illegal Activities",
        "Ethics and Morality",
        "Privacy and Property",
    }
)


def safetybench_questions() -> list[HarmExample]:
    """Chinese exam questions about safety: harmless text on edgy topics, by construction.

    MGSM's arithmetic is the only other harmless Chinese text; these questions talk
    about drugs, theft, self-harm and privacy without helping anyone to them. The
    offensiveness and bias categories quote the text they ask about, and are left out.
    """
    path = DATA / "safetybench_zh_subset" / "test_zh_subset.json"
    _FILES.append(path)
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        HarmExample("", r["question"], False, "safetybench-zh", "zh")
        for r in rows
        if r["category"] in _SAFETYBENCH_PLAIN
    ]


def harm_training() -> list[HarmExample]:
    return (
        gptfuzz()
        + self_defense()
        + moderation()
        + jade_v3()
        + cold()
        + benign_answers()
        + safetybench_questions()
    )


def prompt_examples() -> list[PromptExample]:
    """Harmful requests against ordinary (and harmless-but-edgy) questions."""
    out: list[PromptExample] = []
    for r in _open(DATA / "harmbench" / "harmbench_behaviors_text_all.csv"):
        out.append(PromptExample(r["Behavior"], True, "harmbench"))
    for r in _open(DATA / "advbench" / "harmful_behaviors.csv"):
        out.append(PromptExample(r["goal"], True, "advbench"))
    for path in (
        DATA / "jade_db" / "jade-db-v1.0" / "jade_benchmark_zh.csv",
        DATA / "jade_db" / "jade-db-v1.0" / "jade_benchmark_en.csv",
        DATA / "jade_db" / "jade-db-v2.0" / "jade_benchmark_easy_zh.csv",
        DATA / "jade_db" / "jade-db-v2.0" / "jade_benchmark_medium_zh.csv",
    ):
        out.extend(PromptExample(r["问题"], True, "jade-prompts") for r in _open(path))
    for r in _open(DATA / "xstest" / "xstest_prompts.csv"):
        out.append(PromptExample(r["prompt"], r["label"] == "unsafe", "xstest"))
    path = DATA / "coconot" / "data" / "coconot_contrast_eval.jsonl"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(PromptExample(json.loads(line)["prompt"], False, "coconot"))
    path = DATA / "coconot" / "data" / "coconot_eval.jsonl"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        # Every CoCoNot category but safety concerns (incomplete, unsupported,
        # indeterminate, humanizing) is a request a model may decline but whose
        # fulfilment harms no one: ordinary requests of many kinds and phrasings.
        row = json.loads(line)
        harmful = row["category"] == "Requests with safety concerns"
        out.append(PromptExample(row["prompt"], harmful, "coconot"))
    path = DATA / "gsm8k" / "test.jsonl"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(PromptExample(json.loads(line)["question"], False, "gsm8k-questions"))
    for lang in ("en", "zh"):
        path = DATA / "mgsm" / f"mgsm_{lang}.tsv"
        _FILES.append(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            out.append(PromptExample(line.split("\t")[0], False, "mgsm-questions"))
    path = DATA / "mbpp" / "mbpp.jsonl"
    _FILES.append(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(PromptExample(json.loads(line)["text"], False, "mbpp"))
    for r in _open(DATA / "truthfulqa" / "TruthfulQA.csv"):
        out.append(PromptExample(r["Question"], False, "truthfulqa"))
    for r in _open(DATA / "jailbench_zh" / "JailBench_seed.csv"):
        out.append(PromptExample(r["question_zh"], True, "jailbench"))
    for r in _open(DATA / "multijail" / "data" / "MultiJail.csv"):
        out.append(PromptExample(r["zh"], True, "multijail"))
        out.append(PromptExample(r["en"], True, "multijail"))
    return out
