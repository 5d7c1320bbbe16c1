"""The serving limits' checks, as `tronador webhook` reports them, and the allocator settings."""

from __future__ import annotations

import asyncio
import platform

import pytest

from tronador.cli import main
from webhook.allocator import ReleaseAfterBurst, apply_malloc_settings, release_free_memory
from webhook.limits import LimitError, ServingLimits
from webhook.listener import ConnectionCount


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("request_timeout", 0.0, "must be a positive number of seconds"),
        ("tls_handshake_timeout", -1.0, "must be a positive number of seconds"),
        ("idle_timeout", 0.0, "must be a positive number of seconds"),
        ("max_connections", 0, "must be at least 1"),
        ("max_requests_in_flight", 0, "must be at least 1"),
    ],
)
def test_each_limit_names_its_field_and_rule(field: str, value: float, rule: str) -> None:
    with pytest.raises(LimitError, match=f"^{field}: {rule}$"):
        ServingLimits(**{field: value})


def test_the_defaults_keep_the_deadline_under_the_api_servers_timeouts() -> None:
    limits = ServingLimits()
    assert 0 < limits.request_timeout < 3  # mutating webhook timeoutSeconds
    assert limits.idle_timeout > 90  # the API server's own idle timeout


def test_a_bad_limit_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "--config", "/nonexistent", "--max-connections", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--max-connections: must be at least 1")
    assert "\n" not in err


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_process_applies_its_malloc_settings_on_glibc() -> None:
    assert apply_malloc_settings() == {
        "M_ARENA_MAX": 2,
        "M_MMAP_THRESHOLD": 4 * 1024 * 1024,
        "M_TRIM_THRESHOLD": 4 * 1024 * 1024,
    }
    assert isinstance(release_free_memory(), bool)


async def test_memory_is_released_once_after_a_burst_of_connections_is_over() -> None:
    release = ReleaseAfterBurst(high=10, low=2, delay=0.01)
    count = ConnectionCount()
    for opened in range(1, 6):
        count.open = count.peak = opened
        release(count)  # a small load: never
    count.open, count.peak = 12, 12
    release(count)  # still busy: not yet
    await asyncio.sleep(0.05)
    assert release.releases == 0
    for left in (2, 1, 0):  # the burst's last closes: one release, after the delay
        count.open = left
        release(count)
    await asyncio.sleep(0.05)
    assert release.releases == 1 and count.peak == 0
    release(count)
    await asyncio.sleep(0.05)
    assert release.releases == 1
