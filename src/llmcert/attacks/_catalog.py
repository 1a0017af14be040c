"""The catalogue of built-in attacks, and selection by name or level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType

from llmcert.attacks._attack import Attack, Level
from llmcert.errors import SpecError


@cache
def builtin_attacks() -> Mapping[str, Attack]:
    """Every built-in static attack by name, in a fixed order (L1 first)."""
    from llmcert.attacks.transforms import chinese, encodings, noise, templates

    attacks = (*noise.ATTACKS, *templates.ATTACKS, *encodings.ATTACKS, *chinese.ATTACKS)
    return MappingProxyType({a.name: a for a in attacks})


def parse_levels(text: str) -> tuple[Level, ...]:
    """``"L1,L2"`` → levels, in order and without repeats."""
    out: list[Level] = []
    for part in text.split(","):
        name = part.strip().upper()
        if not name:
            continue
        try:
            level = Level(name)
        except ValueError:
            raise SpecError(
                f"unknown attack level {part.strip()!r} (levels: L1, L2, L3, L4)"
            ) from None
        if level not in out:
            out.append(level)
    if not out:
        raise SpecError("no attack level given (levels: L1, L2, L3, L4)")
    return tuple(out)


def select_attacks(
    *, levels: Iterable[Level] | None = None, names: Iterable[str] | None = None
) -> list[Attack]:
    """Built-in attacks at ``levels`` (all static ones if None), or exactly ``names``."""
    catalogue = builtin_attacks()
    if names is not None:
        chosen: list[Attack] = []
        for name in names:
            if name not in catalogue:
                raise SpecError(
                    f"unknown attack {name!r}; built-in attacks: {', '.join(catalogue)}"
                )
            chosen.append(catalogue[name])
        return chosen
    wanted = set(levels) if levels is not None else set(Level)
    return [a for a in catalogue.values() if a.level in wanted]


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries some transforms call (recorded with every result)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("pypinyin", "opencc"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
