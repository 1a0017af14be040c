"""The powercap/RAPL meter on a fake sysfs tree: zones counted, wrap-around, permission."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcert.perf import MeterError
from llmcert.perf.meters import PowercapMeter, open_meter, wrapped_delta

MAX = 262143328850


def _zone(path: Path, name: str, energy_uj: int, max_uj: int = MAX) -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "powercap"
    pkg = _zone(root / "intel-rapl:0", "package-0", 1_000_000)
    _zone(pkg / "intel-rapl:0:0", "core", 500_000)  # inside the package: not counted
    _zone(pkg / "intel-rapl:0:1", "dram", 2_000_000)
    # sysfs lists sub-zones at the top level too, as links.
    (root / "intel-rapl:0:0").symlink_to(pkg / "intel-rapl:0:0")
    (root / "intel-rapl:0:1").symlink_to(pkg / "intel-rapl:0:1")
    return root


def _set(root: Path, zone: str, value: int) -> None:
    (root / zone / "energy_uj").write_text(f"{value}\n")


def test_package_and_dram_are_summed_and_core_is_not(tree: Path) -> None:
    meter = PowercapMeter(tree)
    meter.start()
    _set(tree, "intel-rapl:0", 1_000_000 + 30_000_000)  # +30 J
    _set(tree, "intel-rapl:0:1", 2_000_000 + 5_000_000)  # +5 J
    _set(tree, "intel-rapl:0:0", 500_000 + 99_000_000)  # ignored
    reading = meter.stop()
    assert reading.provenance == "measured"
    assert reading.joules == pytest.approx(35.0)
    assert set(reading.parts) == {"intel-rapl:0/package-0", "intel-rapl:0:1/dram"}
    assert reading.per_token(70) == pytest.approx(0.5)


def test_a_counter_that_wrapped_is_counted_across_the_wrap(tree: Path) -> None:
    _set(tree, "intel-rapl:0", MAX - 1_000_000)
    meter = PowercapMeter(tree)
    meter.start()
    _set(tree, "intel-rapl:0", 2_000_000)  # wrapped: 1 J before, 2 J after (+1 µJ step)
    reading = meter.stop()
    assert reading.parts["intel-rapl:0/package-0"] == pytest.approx(3.000001)
    assert wrapped_delta(10, 4, 10) == 5


def test_a_counter_without_permission_is_a_meter_error(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = PowercapMeter(tree)
    real = Path.read_text

    def deny(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", deny)
    with pytest.raises(MeterError, match=r"no permission .* need root"):
        meter.start()


def test_no_powercap_tree_means_no_meter(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match="no RAPL package or DRAM zone"):
        PowercapMeter(tmp_path / "missing")
    with pytest.raises(MeterError):
        open_meter(f"powercap:{tmp_path}")


def test_auto_on_this_machine_says_unavailable_with_the_reasons() -> None:
    # The test machines have no powercap tree and no NVIDIA GPU (DESIGN §8.1).
    meter = open_meter("auto")
    reading = meter.stop()
    assert reading.provenance == "unavailable"
    assert reading.joules is None
    assert "RAPL" in reading.detail
