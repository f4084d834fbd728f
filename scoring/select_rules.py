"""The funding rules a selection obeys, the chair's overrides, and the selection's errors.

Money in 万元; shares in (0, 1]. Two policies choose among the selections the rules allow:

- ``rank`` (the default): within a direction, a proposal is left out while a lower-ranked one is
  funded only for a named rule that is not cost (one funded project per PI, related lead units,
  the young-talent share, a chair's override, ineligibility, withdrawal). Budget pressure is met
  by funding fewer second projects, by cutting grants where ``min_grant_share`` allows, or by
  leaving a direction unfunded; never by skipping down the ranking for a cheaper project.
- ``merit-sum``: the largest sum of merit under the budgets, whatever the order within a
  direction. It spends the budget on more merit in total, at the price of passing over
  stronger, dearer proposals for weaker, cheaper ones (the chair must then defend the order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

POLICIES = ("rank", "merit-sum")
Policy = Literal["rank", "merit-sum"]


class SelectionInputError(ValueError):
    """Bad input to the selection: names the offending ids and says what is expected."""


class SelectionInfeasibleError(ValueError):
    """Raised by :func:`scoring.select_probability.selection_probability` when the rules admit
    no selection at all."""


@dataclass(frozen=True)
class Override:
    """A chair's decision: force a proposal in or out of the funded set, with a reason."""

    proposal_id: str
    action: Literal["force_in", "force_out"]
    reason: str
    actor: str

    def __post_init__(self) -> None:
        if self.action not in ("force_in", "force_out"):
            raise SelectionInputError(
                f"override for {self.proposal_id}: action must be 'force_in' or 'force_out', "
                f"got {self.action!r}"
            )
        if not str(self.reason).strip() or not str(self.actor).strip():
            raise SelectionInputError(
                f"override for {self.proposal_id}: give both a reason and an actor "
                "(who decided it and why)"
            )


@dataclass(frozen=True)
class SelectionRules:
    """Funding rules. Money in 万元; shares in (0, 1].

    policy: ``rank`` or ``merit-sum`` (module docstring).
    min_per_direction: each direction funds at least min(this, its number of qualified
    proposals) (qualified: eligible, not withdrawn or forced out, merit >= quality_floor,
    grant bound > 0). Under ``merit-sum`` a hard rule; under ``rank`` the first aim (as many
    directions as the budgets allow reach it), so that a budget too small for every direction
    leaves directions unfunded with the reason instead of failing.
    programme_budgets_wan: programme name -> budget; budget_wan: overall budget (None = none).
    min_grant_share: a grant may be cut to no less than this share of its bound (1.0 = no cuts).
    youth_min_share: minimum share of funded projects that are young (None = no rule).
    merit_range: the scoring sheet's range (lowest, highest): a merit threshold outside it is
    not offered as a way to change a decision.
    """

    policy: Policy = "rank"
    max_per_direction: int = 2
    min_per_direction: int = 1
    quality_floor: float = 60.0
    max_share: float = 0.5
    max_share_enterprise: float = 0.3
    max_grant_wan: float = 2000.0
    budget_wan: float | None = None
    programme_budgets_wan: Mapping[str, float] | None = None
    min_grant_share: float = 1.0
    one_per_pi: bool = True
    related_exclusive: bool = True
    youth_min_share: float | None = None
    overrides: tuple[Override, ...] = ()
    merit_range: tuple[float, float] = (0.0, 100.0)

    def __post_init__(self) -> None:
        s = object.__setattr__
        if self.policy not in POLICIES:
            raise SelectionInputError(
                f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}"
            )
        if self.max_per_direction < 0 or self.min_per_direction < 0:
            raise SelectionInputError("max_per_direction and min_per_direction must be >= 0")
        if self.min_per_direction > self.max_per_direction:
            raise SelectionInputError(
                f"min_per_direction={self.min_per_direction} exceeds max_per_direction="
                f"{self.max_per_direction}; lower the minimum or raise the maximum"
            )
        for name in ("max_share", "max_share_enterprise", "min_grant_share"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise SelectionInputError(f"{name} must be in (0, 1], got {v}")
        if self.youth_min_share is not None and not 0 <= self.youth_min_share <= 1:
            raise SelectionInputError(
                f"youth_min_share must be in [0, 1], got {self.youth_min_share}"
            )
        if not self.max_grant_wan > 0:
            raise SelectionInputError(f"max_grant_wan must be > 0, got {self.max_grant_wan}")
        if self.budget_wan is not None and not self.budget_wan >= 0:
            raise SelectionInputError(f"budget_wan must be >= 0, got {self.budget_wan}")
        lo, hi = (float(v) for v in self.merit_range)
        if not lo < hi:
            raise SelectionInputError(f"merit_range must be (low, high), got {self.merit_range}")
        s(self, "merit_range", (lo, hi))
        budgets = dict(self.programme_budgets_wan or {})
        bad = [p for p, b in budgets.items() if not (b is not None and b >= 0)]
        if bad:
            raise SelectionInputError(f"programme budgets must be >= 0; check {', '.join(bad)}")
        s(self, "programme_budgets_wan", MappingProxyType(budgets))
        overrides = tuple(self.overrides)
        if not all(isinstance(o, Override) for o in overrides):
            raise SelectionInputError("overrides must be Override objects")
        s(self, "overrides", overrides)
