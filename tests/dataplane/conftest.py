"""Fixtures shared by the dataplane tests: the failover scenario's two runs, computed once.

Each run simulates tens of seconds of a 1,000 frames/s stream; several test modules read
the same two results (the scenario's measurements, the timeline), so they are made once per
test session.
"""

from __future__ import annotations

import pytest

from dataplane.scenario import FailoverResult, run_failover

#: A short query interval keeps the run without the feature (which waits for the next query)
#: to a few seconds of virtual time.
FAST_FAILOVER = {"query_interval": 10.0, "max_response_time": 2.0, "rate": 1000.0}


@pytest.fixture(scope="session")
def without() -> FailoverResult:
    """The failover run without the feature (seed 1)."""
    return run_failover(False, seed=1, **FAST_FAILOVER)


@pytest.fixture(scope="session")
def with_feature() -> FailoverResult:
    """The failover run with the feature (seed 1)."""
    return run_failover(True, seed=1, **FAST_FAILOVER)
