"""dataplane/sim/realtime.py: a simulation that follows the wall clock on an asyncio loop."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, VsiConfig
from dataplane.device import Device
from dataplane.sim import DeviceNode, Simulator
from dataplane.sim.realtime import RealTimeRunner
from tests.dataplane._core_helpers import G1, report


def run(coro_factory) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro_factory())


def test_virtual_time_follows_the_wall_clock_and_events_run_on_time() -> None:
    async def scenario() -> None:
        sim = Simulator()
        ran: list[float] = []
        sim.at(0.05, lambda: ran.append(sim.now))
        runner = RealTimeRunner(sim)
        runner.start()
        await asyncio.sleep(0.2)
        runner.stop()
        assert ran == [0.05]
        assert sim.now >= 0.05
    run(scenario)


def test_an_event_that_raises_does_not_stop_the_clock(caplog: pytest.LogCaptureFixture) -> None:
    """One failing callback must not freeze every later timer (keepalives, ageing)."""
    async def scenario() -> None:
        sim = Simulator()
        ran: list[str] = []

        def broken() -> None:
            raise RuntimeError("a bug in one event")

        sim.at(0.02, broken)
        sim.at(0.08, lambda: ran.append("later"))
        runner = RealTimeRunner(sim)
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, _context: None)   # the loop reports it; we look at the effect
        runner.start()
        await asyncio.sleep(0.3)
        runner.stop()
        assert ran == ["later"]
    run(scenario)


def test_catch_up_runs_what_is_due_before_an_outside_change() -> None:
    async def scenario() -> None:
        sim = Simulator()
        ran: list[float] = []
        sim.at(0.03, lambda: ran.append(sim.now))
        runner = RealTimeRunner(sim)
        runner.start()
        runner.stop()                       # nothing fires by itself now
        await asyncio.sleep(0.06)
        now = runner.catch_up()
        assert ran == [0.03] and now >= 0.06
    run(scenario)


def test_a_failing_event_listener_does_not_stop_the_device(caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator()
    node = DeviceNode(sim, Device("dut", "02:00:00:00:00:01", "10.0.0.1"))
    got: list[int] = []

    def broken(events: list[object]) -> None:
        raise RuntimeError("observer bug")

    node.listeners += [broken, lambda events: got.append(len(events))]
    igmp = IgmpSnoopingConfig(enable=True, querier_enable=True)
    node.apply(DeviceConfig(igmp_snooping_enable=True, vsis=(VsiConfig("v", acs=(AcConfig("ac1"),), igmp=igmp),)))
    node.receive("ac1", report(G1, 1), sim.now)            # GroupAdded: both listeners are called
    assert got == [1] and "observer bug" in caplog.text
    assert node.device.next_deadline() is not None        # the membership and querier timers are armed
