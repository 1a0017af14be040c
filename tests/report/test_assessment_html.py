"""The self-assessment page: content, escaping, links, self-containment."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from llmcert.report._assessment import VerdictCounts
from llmcert.report._assessment_html import (
    render_assessment_html,
    safe_href,
    write_assessment_html,
)

from .assessment_fixtures import (
    MODEL_DIGEST,
    SCRIPT,
    STANDARD_DIGEST,
    ZH_CLAUSE_TEXT,
    ZH_TITLE,
    assessment,
    evidence,
    requirement,
)

VOID = {"meta", "br", "input", "img", "hr", "link", "wbr", "source", "col", "area", "base"}
URL_ATTRS = {"href", "src", "action", "srcset", "xlink:href", "formaction", "poster", "data"}


class Page(HTMLParser):
    """Tags with attributes, style bodies and visible text; records nesting mistakes."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def by_id(self, ident: str) -> dict[str, str | None]:
        found = [attrs for _, attrs in self.tags if attrs.get("id") == ident]
        assert len(found) == 1, ident
        return found[0]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def page_text() -> str:
    return render_assessment_html(assessment())


@pytest.fixture(scope="module")
def page(page_text: str) -> Page:
    return Page(page_text)


def test_page_is_well_formed(page: Page) -> None:
    assert page.problems == []
    assert page.stack == []


def test_charset_and_csp_with_hash_of_the_inline_style(page: Page) -> None:
    assert page.all("meta")[0] == {"charset": "utf-8"}
    csp = next(m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy")
    policy = csp["content"] or ""
    assert "default-src 'none'" in policy
    assert "base-uri 'none'" in policy
    assert len(page.styles) == 1
    digest = base64.b64encode(hashlib.sha256(page.styles[0].encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "@media print" in page.styles[0]


def test_nothing_external_and_no_script(page: Page, page_text: str) -> None:
    assert page.all("script") == []
    for tag in ("link", "iframe", "object", "embed", "img", "base", "form"):
        assert page.all(tag) == [], tag
    for name, attrs in page.tags:
        for attr, value in attrs.items():
            if attr in URL_ATTRS and value is not None:
                assert "//" not in value, (name, value)
                assert ":" not in value.split("/")[0], (name, value)
            assert not attr.startswith("on"), (name, attr)
    assert "url(" not in page.styles[0]
    assert "@import" not in page.styles[0]


def test_script_in_explanation_is_text_not_markup(page: Page, page_text: str) -> None:
    assert SCRIPT not in page_text
    assert str(escape(SCRIPT)) in page_text
    assert "&lt;script&gt;" in page_text
    assert SCRIPT in page.plain  # shown to the reader verbatim


def test_header_shows_standard_model_and_overall_verdict(page: Page) -> None:
    assert page.all("title")
    verdict_box = [a for a in page.all("div") if "verdict" in (a.get("class") or "").split()]
    assert verdict_box == [{"class": "verdict v-fail"}]
    text = page.plain
    assert "Overall verdict FAIL 1 requirement(s) failed" in text
    assert ZH_TITLE in text
    assert "gbt-45654-2025 version 2025.1 · status: draft" in text
    assert MODEL_DIGEST in text
    assert STANDARD_DIGEST in text
    assert "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf" in text
    for count in (
        "2 passed",
        "1 failed",
        "1 inconclusive",
        "1 for information",
        "1 not applicable",
    ):
        assert count in text
    assert "2026-11-20T10:00:00+00:00" in text


def test_passing_assessment_shows_pass() -> None:
    a = assessment(
        verdict="pass",
        explanation="all 1 deciding requirement(s) passed",
        summary=VerdictCounts(passed=1),
        requirements=[requirement("r1", "5.1", "pass", estimate=0.97)],
    )
    page = Page(render_assessment_html(a))
    assert [a for a in page.all("div") if a.get("class") == "verdict v-pass"]
    assert "Overall verdict PASS" in page.plain


def test_verdict_table_has_a_row_per_requirement(page_text: str) -> None:
    table = page_text[page_text.index('<table class="verdicts">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr class=\"row-(\w+)\">(.*?)</tr>", table, flags=re.S)
    assert [v for v, _ in rows] == [
        "fail",
        "pass",
        "pass",
        "inconclusive",
        "info",
        "not_applicable",
    ]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[0][1])]
    assert cells == [
        "refusal-rate",
        "5.1",
        "refusal-zh · accuracy",
        "0.700",
        "[0.600, 0.750]",
        "38",
        "2",
        "≥ 0.9",
        "confidence_bound at 95%",
        "FAIL",
        "—",
    ]
    assert "<th>Grade</th>" in table
    assert "very_good" in table
    assert "≤ 0.05" in table
    assert "check bank-coverage {&#34;min_items&#34;: 500}" in table


def test_chart_has_rate_rows_with_whiskers_and_thresholds(page_text: str) -> None:
    svg = page_text[page_text.index("<svg") : page_text.index("</svg>")]
    assert svg.count("<g>") == 4  # the four rates; the two evidence checks have no figure
    assert svg.count('class="threshold"') == 4
    assert svg.count('class="ci"') == 12
    assert 'class="bar b-fail"' in svg
    assert "0.700 [0.600, 0.750] vs ≥ 0.9 → FAIL" in svg


def test_no_chart_without_rates() -> None:
    a = assessment(
        requirements=[
            requirement("r1", "5.1", "info", estimate=None, threshold=None, rule="evidence")
        ]
    )
    text = render_assessment_html(a)
    assert "<svg" not in text
    assert "No requirement is decided on a measured rate." in text


def test_every_clause_in_the_ledger_with_status_and_justification(page: Page) -> None:
    text = page.plain
    expected = [
        ("does not conform", "5.1", "requirement(s) not met: refusal-rate"),
        ("conforms", "5.2", "every requirement met: unsafe-grade"),
        ("undetermined", "5.3", "requirement(s) not yet decided: accuracy-math"),
        ("undetermined", "6.1", "no deciding requirement"),
        ("not applicable", "6.2", "every requirement of the clause was declared not applicable"),
        ("undetermined", "7", "assess it by review"),
    ]
    for index, (status, clause, why) in enumerate(expected, 1):
        anchor = page.by_id(f"c{index}")
        assert anchor.get("class") == f"clause s-{status.replace(' ', '_')}"
        assert f"{status} {clause} " in text
        assert why in text
    assert ZH_CLAUSE_TEXT in text
    assert "Reference: GB/T 45654-2025 §5.1" in text
    assert "Clauses: 1 conforms · 1 does not conform · 1 not applicable · 3 undetermined." in text


def test_requirements_sit_under_their_clause(page_text: str) -> None:
    clause_5_1 = page_text[page_text.index('id="c1"') : page_text.index('id="c2"')]
    assert 'id="r1"' in clause_5_1
    assert 'id="r2"' in clause_5_1
    assert 'id="r3"' not in clause_5_1
    assert 'href="#r1"' in page_text
    assert 'href="#c1"' in page_text


def test_judge_and_grade_and_check_details(page: Page) -> None:
    text = page.plain
    assert "keyword-refusal version 2" in text
    assert "sensitivity 0.930 · specificity 0.880 · correction rogan-gladen" in text
    assert "measured on xstest labels" in text
    assert "grade: very_good" in text
    assert 'categories ["A.1", "A.2"]' in text
    assert "More items needed 120" in text


def test_evidence_links_and_unit_counts(page: Page) -> None:
    hrefs = [a.get("href") for a in page.all("a")]
    assert "evidence/refusal-zh/report.html" in hrefs
    assert "evidence/refusal-zh/result.json" in hrefs
    text = page.plain
    assert "4 units counted, 1 counted against the requirement" in text
    assert "3 units counted, 0 counted against the requirement" in text
    assert "sha256:refusal-zh-unit-0" in text
    assert "file not found" not in text  # no base given: nothing is checked


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example/report.html",
        "//evil.example/report.html",
        "/etc/passwd",
        "javascript:alert(1)",
        "C:\\evidence\\report.html",
        "data:text/html,hi",
    ],
)
def test_unsafe_evidence_paths_are_shown_but_never_linked(bad: str) -> None:
    a = assessment(
        requirements=[requirement("r1", "5.1", "fail", evidence=evidence(report=bad, result=bad))]
    )
    page = Page(render_assessment_html(a))
    assert all(attrs.get("href") != bad for attrs in page.all("a"))
    assert all("evil" not in (attrs.get("href") or "") for attrs in page.all("a"))
    assert page.plain.count("not a relative path; not linked") == 2
    assert bad in page.plain


@pytest.mark.parametrize(
    ("path", "href"),
    [
        ("evidence/run 1/report.html", "evidence/run%201/report.html"),
        ("../eval/result.json", "../eval/result.json"),
        ("evidence\\win\\report.html", "evidence/win/report.html"),
        ("evidence/a#b?.html", "evidence/a%23b%3F.html"),
        ("评估/报告.html", "%E8%AF%84%E4%BC%B0/%E6%8A%A5%E5%91%8A.html"),
        ("", None),
        ("mailto:x@example.org", None),
    ],
)
def test_safe_href(path: str, href: str | None) -> None:
    assert safe_href(path) == href


def test_missing_evidence_files_are_flagged_when_base_given(tmp_path: Path) -> None:
    text = render_assessment_html(assessment(), base=tmp_path)
    assert text.count("file not found beside this report") == 4
    folder = tmp_path / "evidence" / "refusal-zh"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<p>report</p>", encoding="utf-8")
    (folder / "result.json").write_text("{}", encoding="utf-8")
    text = render_assessment_html(assessment(), base=tmp_path)
    assert "file not found beside this report" not in text


def test_requirement_outside_every_clause_is_still_shown() -> None:
    a = assessment()
    stray = requirement("stray", "9.9", "fail", explanation="belongs to no listed clause")
    text = render_assessment_html(a.model_copy(update={"requirements": [*a.requirements, stray]}))
    assert "Requirements outside every listed clause" in text
    assert "belongs to no listed clause" in text


def test_listed_requirement_without_result_is_flagged() -> None:
    a = assessment()
    clause = a.clauses[0].model_copy(update={"requirements": ["refusal-rate", "ghost"]})
    text = render_assessment_html(a.model_copy(update={"clauses": [clause, *a.clauses[1:]]}))
    assert "Listed but without a recorded result" in text
    assert "<code>ghost</code>" in text


def test_appendix_has_environment_command_and_digest(page: Page) -> None:
    text = page.plain
    assert "llmcert assess --standard gbt-45654-2025 --model embedded" in text
    assert "3.11.9" in text
    assert "Linux-x86_64" in text
    assert "pydantic 2.9.2" in text
    assert "memory_gb 8" in text
    assert re.search(r"digest sha256:[0-9a-f]{64}", text)


def test_command_with_markup_is_escaped() -> None:
    text = render_assessment_html(assessment(command=["llmcert", "assess", "</pre><b>x</b>"]))
    assert "</pre><b>x</b>" not in text
    assert "&lt;/pre&gt;&lt;b&gt;x&lt;/b&gt;" in text


def test_write_creates_the_file_and_checks_evidence_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "out" / "assessment.html"
    write_assessment_html(assessment(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert ZH_TITLE in text
    assert "file not found beside this report" in text
    assert [p.name for p in path.parent.iterdir()] == ["assessment.html"]
