"""Seeded soak: many windows with randomly mixed faults at a 5% page fault rate, every one equal to the truth.

Window ``i`` is planned from seed ``DAILY_SOAK_SEED + i`` alone (source, cursor convention, start and
length, which faults at which rates, bursts, arrivals, a capped limit), so any failing window can be
replayed on its own: ``DAILY_SOAK_SEED=<seed> DAILY_SOAK_WINDOWS=1 pytest tests/faults/test_soak.py``.
The windows of each convention load into one DuckDB file (an API keeps its convention; later walks
start from the anchors earlier ones stored), and overlapping windows must leave every record
exactly once. ``make test`` runs a reduced count;
``make soak`` runs ``DAILY_SOAK_WINDOWS=200``.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from daily_provider.simulator import FaultConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window
from tests.faults.harness import (
    DAY0,
    SOURCES,
    assert_window_is_truth,
    expected_rows,
    held,
    load,
    make_hook,
    sim_config,
    table_of,
    table_rows,
)

WINDOWS = int(os.environ.get("DAILY_SOAK_WINDOWS", "25"))
FIRST_SEED = int(os.environ.get("DAILY_SOAK_SEED", "1000"))
PAGE_FAULT_RATE = 0.05
DAYS = 4
RATE_FAULTS = (
    "error_5xx_rate",
    "rate_429",
    "stall_rate",
    "drop_rate",
    "truncate_rate",
    "html_rate",
    "empty_rate",
    "duplicate_rate",
)
LENGTHS_MINUTES = (1, 17, 60, 6 * 60, 24 * 60, 36 * 60)


@dataclass(frozen=True)
class Plan:
    seed: int
    convention: str
    source: str
    window: Window
    faults: FaultConfig

    def describe(self) -> str:
        rates = {
            name: round(getattr(self.faults, name), 4) for name in RATE_FAULTS if getattr(self.faults, name)
        }
        return (
            f"seed {self.seed}: {self.source} {self.window} under {self.convention}, rates {rates}, "
            f"burst_429={self.faults.burst_429} after {self.faults.burst_429_after} "
            f"(Retry-After {self.faults.retry_after}), arrivals/request={self.faults.arrivals_per_request}, "
            f"max_limit={self.faults.max_limit}"
        )


def plan(seed: int) -> Plan:
    """Everything about one soak window, drawn from its seed: the 5% page fault rate split among a random mix."""
    rng = random.Random(seed)
    kinds = rng.sample(RATE_FAULTS, rng.randint(1, len(RATE_FAULTS)))
    faults = FaultConfig(
        seed=seed,
        **dict.fromkeys(kinds, PAGE_FAULT_RATE / len(kinds)),
        stall_seconds=1.0,
        retry_after=rng.choice(("seconds", "http-date", "none")),
        retry_after_seconds=rng.choice((0, 1, 2)),
        burst_429=rng.choice((0, 0, 0, 2)),
        burst_429_after=rng.randint(0, 3),
        arrivals_per_request=rng.choice((0, 0, 3)),
        max_limit=rng.choice((10, 13, 25, 37, 100)),
    )
    total_minutes = DAYS * 24 * 60
    start = rng.randrange(total_minutes - 1)
    end = min(total_minutes, start + rng.choice(LENGTHS_MINUTES))
    window = Window(DAY0 + timedelta(minutes=start), DAY0 + timedelta(minutes=end))
    return Plan(seed, rng.choice(("stripe", "literal")), rng.choice(SOURCES), window, faults)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SimulatorServer]]:
    """One simulator per convention over the same records (the convention only changes paging)."""
    config = {"days": DAYS, "api_per_day": 240, "webhook_per_day": 60}
    with (
        SimulatorServer(sim_config(convention="stripe", **config)) as stripe,
        SimulatorServer(sim_config(convention="literal", **config)) as literal,
    ):
        yield {"stripe": stripe, "literal": literal}


def test_every_soak_window_equals_the_truth(servers: dict[str, SimulatorServer], tmp_path: Path) -> None:
    assert WINDOWS >= 1, "DAILY_SOAK_WINDOWS must be at least 1"
    with held(tmp_path / "stripe.duckdb") as stripe, held(tmp_path / "literal.duckdb") as literal:
        soak_into({"stripe": stripe, "literal": literal}, servers)


def soak_into(warehouses: dict[str, DuckDBWarehouse], servers: dict[str, SimulatorServer]) -> None:
    loaded: dict[tuple[str, str], set[str]] = {(c, s): set() for c in servers for s in SOURCES}
    injected: Counter[str] = Counter()
    requests = 0
    for number in range(WINDOWS):
        soak = plan(FIRST_SEED + number)
        server, db = servers[soak.convention], warehouses[soak.convention]
        server.set_faults(soak.faults)
        server.reset_stats()
        replay = (
            f"soak window {number} failed ({soak.describe()}); replay it with "
            f"DAILY_SOAK_SEED={soak.seed} DAILY_SOAK_WINDOWS=1 pytest tests/faults/test_soak.py"
        )
        try:
            load(
                server,
                db,
                soak.window,
                source=soak.source,
                run_id=f"soak-{soak.seed}",
                hook=make_hook(server, timeout=0.25, max_retries=10),
            )
            assert_window_is_truth(
                db, server, soak.source, soak.window, run_id=f"soak-{soak.seed}", allow_empty=True
            )
        except Exception as exc:
            pytest.fail(f"{replay}: {type(exc).__name__}: {exc}")
        stats = server.stats()
        injected.update(stats["faults_injected"])
        requests += stats["requests"]
        loaded[soak.convention, soak.source].update(
            row["id"] for row in expected_rows(server, soak.source, soak.window)
        )

    for (convention, source), expected in loaded.items():
        ids = [row["id"] for row in table_rows(warehouses[convention], table_of(source), columns=["id"])]
        what = f"{source} under {convention}"
        assert len(ids) == len(set(ids)), f"{what}: a record is in the table twice after overlapping windows"
        assert set(ids) == expected, f"{what}: the table is not the union of the loaded windows' truth"
    print(
        f"soak: {WINDOWS} windows, seeds {FIRST_SEED}..{FIRST_SEED + WINDOWS - 1}, all equal to the truth; "
        f"{requests} requests, faults injected {dict(sorted(injected.items()))}"
    )
