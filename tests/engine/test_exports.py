"""The lazily loaded engine namespace resolves every name it lists, and only those."""

import importlib

import pytest

import llmcert.engine as engine


def test_every_listed_name_resolves_from_its_module() -> None:
    assert set(engine.__all__) == set(engine._WHERE)
    for name in engine.__all__:
        where = engine._WHERE[name]
        module = importlib.import_module(where if "." in where else f"llmcert.engine.{where}")
        assert getattr(engine, name) is getattr(module, name)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError):
        _ = engine.NoSuchThing
