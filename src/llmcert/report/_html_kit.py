"""What every HTML page of llmcert shares: value formatting, assets, the Jinja environment.

Pages are self-contained: CSS and JS are inlined from the package, and each page's
Content-Security-Policy allows exactly those, by hash. Autoescaping is always on
and no untrusted value is ever marked safe.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment, Template


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def show(value: Any) -> str:
    """A value as a person reads it: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"  # timings and rates: enough digits, no float noise
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def group_label(group: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(group.items())) or "overall"


def asset(name: str) -> str:
    """A file of the package's ``templates`` folder."""
    return (files("llmcert.report") / "templates" / name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    """One environment for every page, so that templates can import each other's macros."""
    from jinja2 import Environment, FunctionLoader, StrictUndefined

    env = Environment(
        loader=FunctionLoader(asset),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["show"] = show
    env.filters["fmt"] = fmt
    env.globals["group_label"] = group_label
    return env


def template(name: str) -> Template:
    """A packaged template, compiled once."""
    return _environment().get_template(name)
