"""Fixtures of the fault, crash and concurrency tests: the process zygote (see ``zygote.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.zygote import Zygote


@pytest.fixture(scope="session")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    """Forks real load processes from one pre-imported parent (started once per test session)."""
    started = Zygote(tmp_path_factory.mktemp("zygote"))
    yield started
    started.close()
