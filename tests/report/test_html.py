"""The HTML report: escaping, self-containment, content and size."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import llmcert.report._html as html_module
from llmcert.report import EvalResult, UnitRecord, render_html, write_html

from .conftest import (
    FEW_SHOT_PREFIX,
    SCRIPT,
    SYSTEM,
    ZH_ANSWER,
    ZH_QUESTION,
    chat_request,
    scored,
    unit,
)

VOID = {"meta", "br", "input", "img", "hr", "link", "wbr", "source", "col", "area", "base"}


class Page(HTMLParser):
    """Collects tags, attributes, script bodies and text; checks nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("script", "style"):
            self._in = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture
def page_text(result: EvalResult, tmp_path: Path) -> str:
    path = tmp_path / "report.html"
    write_html(result, path)
    return path.read_text(encoding="utf-8")


def test_well_formed(page_text: str) -> None:
    page = parse(page_text)
    assert page.problems == []
    assert page.stack == []
    assert page_text.startswith("<!DOCTYPE html>")


def test_untrusted_text_is_escaped(page_text: str) -> None:
    page = parse(page_text)
    # Only our own script element exists; the response's markup is text.
    assert len(page.named("script")) == 1
    assert page.named("img") == []
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    text = "".join(page.text)
    assert SCRIPT in text
    assert "<b>bold</b>" in text  # the target, shown literally
    assert '<script>alert("pwned")' not in page_text


def test_self_contained(page_text: str) -> None:
    page = parse(page_text)
    for _, attrs in page.tags:
        for name in ("src", "href", "action", "xlink:href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "data:", "file:")), value
    assert page.named("link") == []
    assert page.named("iframe") == []
    assert "http://" not in page_text
    assert "https://" not in page_text
    assert "@import" not in "".join(page.styles)
    assert "url(" not in "".join(page.styles)


def test_csp_allows_exactly_our_style_and_script(page_text: str) -> None:
    page = parse(page_text)
    csp = next(
        a["content"] for a in page.named("meta") if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    assert "default-src 'none'" in csp

    def digest(body: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()

    assert f"script-src '{digest(page.scripts[0])}'" in csp
    assert f"style-src '{digest(page.styles[0])}'" in csp


def test_charts_are_inline_svg(page_text: str, result: EvalResult) -> None:
    page = parse(page_text)
    svgs = page.named("svg")
    assert len(svgs) == len({m.name for m in result.metrics})
    bars = page.named("rect")
    assert len(bars) == sum(m.estimate is not None for m in result.metrics)
    # Whisker ends sit at the interval bounds: 0.6 and 0.95 on a 0..1 axis of 420 units from 230.
    xs = {a.get("x1") for a in page.named("line") if a.get("class") == "ci"}
    assert {"482.0", "629.0"} <= xs
    assert "nothing scored" in "".join(page.text)


def test_metrics_table_and_header(page_text: str) -> None:
    page = parse(page_text)
    text = " ".join(" ".join(page.text).split())
    for needle in (
        "default",
        "1.2.0",
        "sha256:suitedigest",
        "llamacpp:models/smollm2.gguf",
        "sha256:modelidentity",
    ):
        assert needle in text
    assert "language=zh" in text
    assert "partial_credit" in text
    assert "95% [0.600, 0.950]" in text
    assert "PASS" not in text
    assert "FAIL" not in text


def test_conditions_errors_and_zh(page_text: str) -> None:
    page = parse(page_text)
    text = "".join(page.text)
    for needle in (
        "max_tokens",
        "1234",
        "Q4_1",
        "numpy",
        "2.4.6",
        "cores",
        "first_request_to_last_response_s",
        "llmcert eval --suite default",
    ):
        assert needle in text, needle
    assert "BackendUnavailable" in text
    assert "connection refused by 127.0.0.1:9" in text
    assert ZH_QUESTION in text
    assert ZH_ANSWER in text


def test_units_carry_state_for_filters(page_text: str, result: EvalResult) -> None:
    page = parse(page_text)
    states = [a.get("data-state") for a in page.named("details") if a.get("class") == "unit"]
    assert states == [
        "correct",
        "correct",
        "wrong",
        "correct",
        "error",
        "unscored",
        "correct",
        "wrong",
    ]
    options = {a.get("value") for a in page.named("option")}
    assert {"", "wrong", "error"} <= options
    assert page.named("input")[0].get("id") == "q"
    assert "data-state" in page.scripts[0]
    assert 'getElementById("q")' in page.scripts[0]


def test_long_shared_text_written_once(page_text: str) -> None:
    # The system message of every chat unit, and the few-shot prefix of completions.
    escaped_system = SYSTEM.replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
    assert page_text.count(escaped_system) == 2  # the shared block and the prompt-template section
    assert page_text.count(FEW_SHOT_PREFIX) == 1
    assert "Same request as" in page_text  # repeat 1 of q1 points at repeat 0


def test_failed_render_keeps_old_file(
    result: EvalResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"
    path.write_text("<p>previous</p>", encoding="utf-8")

    def broken(*_: object) -> str:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(html_module, "render_html", broken)
    with pytest.raises(RuntimeError, match="template exploded"):
        write_html(result, path)
    assert path.read_text(encoding="utf-8") == "<p>previous</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_empty_result_renders(result: EvalResult) -> None:
    empty = result.model_copy(
        update={"units": [], "metrics": [], "errors": {}, "suite": {}, "model": {}}
    )
    page = parse(render_html(empty))
    assert page.problems == []
    text = "".join(page.text)
    assert "No metrics were computed." in text
    assert "No model call failed." in text


def test_two_thousand_units_stay_small(result: EvalResult) -> None:
    units: list[UnitRecord] = []
    for i in range(400):
        question = f"Question {i}: what is {i} plus {i}? " + "Think step by step. " * 5
        request = chat_request(question)
        request["messages"][1:1] = [
            {"role": "user", "content": FEW_SHOT_PREFIX},
            {"role": "assistant", "content": "Understood. " * 20},
        ]
        for repeat in range(5):
            answer = f"Let me work it out. {i} + {i} = {2 * i}.\nAnswer: {2 * i}"
            units.append(
                unit(
                    f"item-{i}",
                    repeat=repeat,
                    request=request,
                    text=answer,
                    score=scored(1.0, str(2 * i)),
                )
            )
    big = result.model_copy(update={"units": units})
    text = render_html(big)
    assert len(units) == 2000
    assert text.count('class="unit"') == 2000
    assert text.count("Same request as") == 1600
    assert text.count(FEW_SHOT_PREFIX) == 1
    # Well under the ~6 MB it would take to repeat every prompt in full.
    assert len(text.encode("utf-8")) < 2_500_000
    assert re.search(r'id="u1999"', text)
