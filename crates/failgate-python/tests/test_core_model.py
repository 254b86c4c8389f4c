"""A hypothesis state machine: a breaker (consecutive_failures=K, open_for=W,
half_open_permits=P, on a ManualClock) against a small reference model written from
the documented rules, not from the Rust code:

- closed: calls pass; a failure adds to the run of failures, a success ends it, an
  ignored or abandoned call changes nothing; the K-th failure in a row opens it.
- open: refused, with retry_after = the time left of the wait W; once W has passed
  (checked at the next call or query) it is half-open.
- half-open: at most P probes are admitted; the rest are refused in state half_open
  with no retry_after. P successes close it; one failure opens it again for W; an
  ignored or abandoned (or dropped) probe gives its slot back.
- force_open: refused, in state forced_open, with no retry_after, until reset
  (ordered again while forced open, nothing changes); reset: closed with nothing
  counted.
- metrics: the run of failures while closed, the probe slots in use (in flight or
  succeeded) and the successes while half-open, the time left while open, the time
  in the state, and the refusals.
- every transition starts a generation; an outcome from a permit of an older
  generation is discarded.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import failgate
from failgate import State

_EPS = 1e-6  # the clock counts nanoseconds; the steps below are multiples of 1/4 s


@dataclass
class Model:
    """The documented rules, and nothing else."""

    k: int
    wait: float
    permits: int
    now: float = 0.0
    state: State = State.CLOSED
    generation: int = 0
    run: int = 0  # failures in a row, while closed
    deadline: float = 0.0  # when an open wait ends
    probes_out: int = 0  # admitted, not yet reported, this half-open round
    probes_won: int = 0  # succeeded this round (their slots are not given back)
    refused: int = 0
    entered: float = 0.0  # when the present state began

    def _move(self, state: State) -> None:
        self.state = state
        self.entered = self.now
        self.generation += 1
        self.run = self.probes_out = self.probes_won = 0
        if state is State.OPEN:
            self.deadline = self.now + self.wait

    def settle(self) -> None:
        """The transition that is due, made lazily at a call or query."""
        if self.state is State.OPEN and self.now >= self.deadline - _EPS:
            self._move(State.HALF_OPEN)

    def acquire(self) -> tuple[bool, float | None]:
        """(admitted, retry_after); admitted permits are probes iff half-open."""
        self.settle()
        if self.state is State.CLOSED:
            return True, None
        if self.state is State.HALF_OPEN and self.probes_out + self.probes_won < self.permits:
            self.probes_out += 1
            return True, None
        self.refused += 1
        if self.state is State.OPEN:
            return False, self.deadline - self.now
        return False, None

    def report(self, generation: int, kind: str) -> None:
        self.settle()
        if generation != self.generation:
            return  # stale: discarded
        if self.state is State.CLOSED:
            if kind == "success":
                self.run = 0
            elif kind == "failure":
                self.run += 1
                if self.run >= self.k:
                    self._move(State.OPEN)
        elif self.state is State.HALF_OPEN:
            self.probes_out -= 1
            if kind == "success":
                self.probes_won += 1
                if self.probes_won >= self.permits:
                    self._move(State.CLOSED)
            elif kind == "failure":
                self._move(State.OPEN)


@dataclass
class Held:
    permit: failgate.Permit
    generation: int
    probe: bool


@dataclass
class _Slots:
    held: list[Held] = field(default_factory=list)


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = failgate.ManualClock()
        self.slots = _Slots()
        self.model = Model(1, 1.0, 1)
        self.breaker = failgate.CircuitBreaker()

    @initialize(
        k=st.integers(1, 4),
        wait=st.sampled_from([0.25, 1.0, 5.0, 30.0]),
        permits=st.integers(1, 3),
    )
    def build(self, k: int, wait: float, permits: int) -> None:
        self.model = Model(k, wait, permits)
        self.breaker = failgate.CircuitBreaker(
            name="model",
            consecutive_failures=k,
            open_for=wait,
            half_open_permits=permits,
            clock=self.clock,
            totals=True,
        )

    @precondition(lambda self: len(self.slots.held) < 6)
    @rule()
    def acquire(self) -> None:
        """Takes a permit and holds it (or checks the refusal against the model)."""
        admitted, retry_after = self.model.acquire()
        try:
            permit = self.breaker.acquire()
        except failgate.CircuitOpenError as error:
            assert not admitted, "the breaker refused a call the model admits"
            assert error.state is self.model.state
            if retry_after is None:
                assert error.retry_after is None
            else:
                assert error.retry_after is not None
                # Never more than the wait left, and exactly it on a manual clock.
                assert error.retry_after <= retry_after + _EPS
                assert error.retry_after == pytest.approx(retry_after, abs=_EPS)
            return
        assert admitted, f"the breaker admitted a call the model refuses ({self.model})"
        probe = self.model.state is State.HALF_OPEN
        assert permit.is_probe == probe
        self.slots.held.append(Held(permit, self.model.generation, probe))

    @precondition(lambda self: bool(self.slots.held))
    @rule(
        index=st.integers(0, 5),
        kind=st.sampled_from(["success", "failure", "ignore", "abandon", "drop"]),
    )
    def report(self, index: int, kind: str) -> None:
        held = self.slots.held.pop(index % len(self.slots.held))
        generation = held.generation
        if kind == "drop":
            del held  # the last reference to an unreported permit: abandoned
            gc.collect()
        else:
            getattr(held.permit, kind)()
            assert held.permit.done
        self.model.report(generation, kind)

    @rule(kind=st.sampled_from(["success", "failure", "failure", "ignore"]))
    def call(self, kind: str) -> None:
        """A whole call, admitted and reported in one step (the common case; it also
        lets short runs reach a trip and a half-open round)."""
        held = len(self.slots.held)
        self.acquire()
        if len(self.slots.held) > held:
            self.report(len(self.slots.held) - 1, kind)

    @rule(dt=st.sampled_from([0.25, 0.5, 1.0, 2.5, 5.0, 30.0]))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)
        self.model.now += dt

    @rule()
    def force_open(self) -> None:
        self.breaker.force_open()
        self.model.settle()
        # Ordered again while forced open, it changes nothing (no new generation, no
        # event, time_in_state runs on): idempotent, as a user expects, though
        # breaker/manual.rs says every order is a transition.
        if self.model.state is not State.FORCED_OPEN:
            self.model._move(State.FORCED_OPEN)

    @rule()
    def reset(self) -> None:
        self.breaker.reset()
        self.model.settle()
        self.model._move(State.CLOSED)

    @invariant()
    def states_match(self) -> None:
        self.model.settle()
        assert self.breaker.state is self.model.state, self.model

    @invariant()
    def probes_bounded(self) -> None:
        current = [
            h for h in self.slots.held if h.probe and h.generation == self.model.generation
        ]
        assert len(current) <= self.model.permits
        assert self.breaker.metrics().half_open_probes <= self.model.permits

    @invariant()
    def counts_match(self) -> None:
        model = self.model
        model.settle()
        m = self.breaker.metrics()
        assert m.state is model.state
        if model.state is State.CLOSED:
            assert m.consecutive_failures == model.run
        if model.state is State.HALF_OPEN:
            # Documented: "slots in use (in flight or succeeded)".
            assert m.half_open_probes == model.probes_out + model.probes_won
            assert m.half_open_successes == model.probes_won
        else:
            # Half-open begins lazily, at a query after the wait: its start is left
            # out; every other state begins at the call or order that made it.
            assert m.time_in_state == pytest.approx(model.now - model.entered, abs=_EPS)
        if model.state is State.OPEN:
            assert m.retry_after == pytest.approx(model.deadline - model.now, abs=_EPS)
        else:
            assert m.retry_after is None
        assert m.totals is not None and m.totals.refused == model.refused


BreakerMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_breaker_matches_the_model = BreakerMachine.TestCase
