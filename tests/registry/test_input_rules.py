"""The same input rules on SQLite and PostgreSQL: NUL and control characters are refused, not crashed on."""

from __future__ import annotations

import pytest

from llmcert.registry import RecordNotFound, Registry, RegistryError

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("name", ["nul\x00", "esc\x1b[2K", "bidi\u202e", "line\u2028sep"])
def test_names_with_control_characters_are_refused_and_change_nothing(
    registry: Registry, name: str
) -> None:
    before = len(registry.audit_entries(limit=1000))
    with pytest.raises(RegistryError, match="control or formatting character"):
        registry.register_model(
            name=name, ref="embedded", identity_digest=DIGEST, owner="o", actor="t"
        )
    with pytest.raises(RegistryError):
        registry.create_token(name, "applicant", actor="t")
    assert len(registry.audit_entries(limit=1000)) == before


def test_nul_in_an_id_or_a_search_is_not_found_or_refused(registry: Registry) -> None:
    with pytest.raises(RecordNotFound):
        registry.get_model("abc\x00")
    with pytest.raises(RecordNotFound):
        registry.get_filing("\x00")
    with pytest.raises(RegistryError):
        registry.search_certificates("x\x00y")
    with pytest.raises(RegistryError):
        registry.search_certificates(None, "std\x00")


def test_free_text_keeps_lines_but_not_escapes(registry: Registry) -> None:
    model = registry.register_model(
        name="m", ref="embedded", identity_digest=DIGEST, owner="o", actor="t"
    )
    filing = registry.submit_filing(model.id, "s@1", applicant="o", actor="t")
    with pytest.raises(RegistryError):
        registry.transition_filing(filing.id, "assessing", actor="t", note="bad\x1b]0;x\x07")
    moved = registry.transition_filing(filing.id, "assessing", actor="t", note="line one\nline two")
    assert moved.status.value == "assessing"
