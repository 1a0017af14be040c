"""Downloading upstream dataset files: served from memory, never from the network."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from llmcert.errors import SpecError
from llmcert.items import import_dataset
from llmcert.items._hub import FetchError, HttpFetcher, cache_root
from llmcert.items.importers import get_importer
from tests.items._data import CASES, SHARED, importer_of, needs_shared


class Hub:
    """Answers the pinned upstream URLs from the local copies and records requests."""

    def __init__(self, folder: Path, importer: str, options: dict[str, object]) -> None:
        imp = get_importer(importer)
        files = imp.remote(imp.resolve_options(options))
        self.by_url = {rf.url: folder / rf.rel for rf in files}
        self.requests: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        path = self.by_url.get(url)
        if path is None:
            return httpx.Response(404, text="not here")
        return httpx.Response(200, content=path.read_bytes())

    def fetcher(self) -> HttpFetcher:
        return HttpFetcher(transport=httpx.MockTransport(self.handler))


def no_network(url: str) -> bytes:
    raise FetchError("network unreachable")


@needs_shared
@pytest.mark.parametrize("case", list(CASES))
def test_hub_download_matches_local_copy(tmp_path: Path, case: str) -> None:
    folder, options, count = CASES[case]
    name = importer_of(case)
    hub = Hub(SHARED / folder, name, options)
    items = import_dataset(name, None, options, fetch=hub.fetcher(), cache_dir=tmp_path)
    local = import_dataset(name, SHARED / folder, options)
    assert len(items) == count
    assert [it.hash for it in items] == [it.hash for it in local]
    assert sorted(hub.requests) == sorted(hub.by_url)
    for url in hub.requests:
        parts = urlsplit(url)
        assert parts.scheme == "https"
        assert parts.netloc == "raw.githubusercontent.com"
    cached = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(cached) == len(hub.by_url)
    assert not [p for p in cached if p.name.endswith(".part")]
    # a second run is served from the cache: no network needed
    again = import_dataset(name, None, options, fetch=no_network, cache_dir=tmp_path)
    assert [it.hash for it in again] == [it.hash for it in local]


@needs_shared
def test_corrupt_cache_file_is_fetched_again(tmp_path: Path) -> None:
    hub = Hub(SHARED / "gsm8k", "gsm8k", {})
    import_dataset("gsm8k", None, {}, fetch=hub.fetcher(), cache_dir=tmp_path)
    (cached,) = tmp_path.rglob("test.jsonl")
    cached.write_text('{"question": "half-written', encoding="utf-8")
    items = import_dataset("gsm8k", None, {}, fetch=hub.fetcher(), cache_dir=tmp_path)
    assert len(items) == 1319
    assert len(hub.requests) == 2


def test_network_failure_tells_the_user_to_pass_data(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known\nsecond line", request=request)

    fetch = HttpFetcher(transport=httpx.MockTransport(refuse))
    with pytest.raises(SpecError) as exc:
        import_dataset("gsm8k", None, {}, fetch=fetch, cache_dir=tmp_path)
    message = str(exc.value)
    assert "--data PATH" in message
    assert "ConnectError" in message
    assert "\n" not in message
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_timeout_and_http_errors_become_spec_errors(tmp_path: Path) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(SpecError, match="ReadTimeout"):
        import_dataset(
            "mgsm",
            None,
            {"language": "zh"},
            fetch=HttpFetcher(transport=httpx.MockTransport(slow)),
            cache_dir=tmp_path,
        )
    missing = HttpFetcher(transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    with pytest.raises(SpecError, match="HTTP 404"):
        import_dataset("mgsm", None, {"language": "zh"}, fetch=missing, cache_dir=tmp_path)


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path) -> None:
    tampered = HttpFetcher(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"q\t1\n"))
    )
    with pytest.raises(SpecError, match="sha256"):
        import_dataset("mgsm", None, {"language": "en"}, fetch=tampered, cache_dir=tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_oversized_download_is_refused() -> None:
    big = HttpFetcher(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 100)),
        max_bytes=10,
    )
    with pytest.raises(FetchError, match="larger"):
        big("https://example.invalid/file")


def test_default_fetcher_has_a_timeout() -> None:
    assert 0 < HttpFetcher().timeout <= 120


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMCERT_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path / "datasets"
    monkeypatch.delenv("LLMCERT_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "llmcert" / "datasets"


@needs_shared
def test_default_cache_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLMCERT_CACHE_DIR", str(tmp_path))
    hub = Hub(SHARED / "mgsm", "mgsm", {"language": "en"})
    items = import_dataset("mgsm", None, {"language": "en"}, fetch=hub.fetcher())
    assert len(items) == 250
    assert list((tmp_path / "datasets" / "mgsm").rglob("mgsm_en.tsv"))
