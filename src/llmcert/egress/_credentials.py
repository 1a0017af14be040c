"""The operator's API keys, each bound to the one endpoint origin it is for.

A key is never chosen by the party whose endpoint receives it. The operator
writes a small file mapping origins to where each secret lives::

    # credentials.yaml
    https://api.example.com:        {env: EXAMPLE_API_KEY}
    https://models.example.org:8443: {file: /run/secrets/example-org}

Secrets are read once, when the server starts (so a missing one fails the
start, not an assessment), and kept in :class:`Secret`, whose ``repr`` and
``str`` never show the value. A request to an origin without a binding carries
no credential at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmcert.errors import LlmcertError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Secret:
    """A credential value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port spelled out and the host lower-cased."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url!r}")
    port = parts.port or _DEFAULT_PORTS[scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class CredentialMap:
    """Origin → secret; an origin not listed gets no credential."""

    bindings: Mapping[str, Secret] = field(default_factory=dict)

    def for_url(self, url: str) -> Secret | None:
        return self.bindings.get(origin_of(url))

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(sorted(self.bindings))

    @classmethod
    def load(cls, path: Path, environ: Mapping[str, str]) -> CredentialMap:
        """Read the operator's binding file (YAML or JSON); errors name the origin, never a value."""
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise LlmcertError(f"{path}: cannot read the credential bindings: {exc}") from None
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise LlmcertError(
                f"{path}: expected a mapping of origin to {{env: NAME}} or {{file: PATH}}"
            )
        bindings: dict[str, Secret] = {}
        for raw_origin, source in data.items():
            try:
                origin = origin_of(str(raw_origin))
            except ValueError as exc:
                raise LlmcertError(f"{path}: {exc}") from None
            bindings[origin] = _read_secret(path, origin, source, environ)
        return cls(bindings)


def _read_secret(path: Path, origin: str, source: Any, environ: Mapping[str, str]) -> Secret:
    if not isinstance(source, dict) or len(source) != 1 or not ({"env", "file"} & set(source)):
        raise LlmcertError(f"{path}: {origin}: give exactly one of env: NAME or file: PATH")
    if "env" in source:
        value = environ.get(str(source["env"]), "")
        where = f"environment variable {source['env']}"
    else:
        secret_file = Path(str(source["file"]))
        if not secret_file.is_absolute():
            secret_file = path.parent / secret_file
        try:
            value = secret_file.read_text(encoding="utf-8").strip()
        except OSError:
            value = ""
        where = f"file {secret_file}"
    if not value or any(c in value for c in "\r\n\0"):
        raise LlmcertError(f"{path}: {origin}: the {where} holds no usable secret")
    return Secret(value)
