"""What one evaluation carries: the binding, the step budget, the effects produced, the clock.

Compiled code receives one ``State`` and threads it through every call that needs it. A state
belongs to a single evaluation on a single thread; nothing in it is shared between evaluations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rules.errors import RuleLimitExceeded
from rules.limits import MAX_STEPS


class State:
    """The mutable state of one evaluation."""

    __slots__ = (
        "_now",
        "binding",
        "effects",
        "rule",
        "sources",
        "stage",
        "step_budget",
        "steps",
    )

    def __init__(
        self,
        binding: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
        step_budget: int = MAX_STEPS,
    ) -> None:
        self.binding: dict[str, Any] = binding if binding is not None else {}
        self.steps = 0
        self.step_budget = step_budget
        self.effects: list[Any] = []
        self.sources: list[Any] = []
        """For each effect, the rule that was running when it was emitted."""
        self.rule: Any = None
        self._now = now
        self.stage = -1
        """Which part of a rule runs: -1 its bindings and condition, i ≥ 0 its i-th effect."""

    @property
    def now(self) -> datetime:
        """The evaluation's clock: given by the caller, else read once when first needed."""
        if self._now is None:
            self._now = datetime.now(UTC)
        return self._now

    def charge(self, steps: int) -> None:
        """Spend evaluation steps; refuse to go on once the budget is spent."""
        self.steps += steps
        if self.steps > self.step_budget:
            raise RuleLimitExceeded(
                f"evaluation took more than {self.step_budget} steps", pointer=""
            )

    def emit(self, effect: Any) -> None:
        """Record an effect; effects are values, applied later by the caller."""
        self.effects.append(effect)
        self.sources.append(self.rule)
