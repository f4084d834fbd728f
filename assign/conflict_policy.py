"""The conflict-of-interest policy: which relations make an expert conflicted with a proposal,
how far back they reach, and how related units are read (``conflict_policy.toml``, overridable
per batch)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from assign.graph import (
    DEFAULT_REACH,
    Relatedness,
    RelatednessError,
)

#: Every conflict kind, in report order.
KINDS: tuple[str, ...] = (
    "employment",
    "former_employment",
    "unit_head",
    "team_member",
    "coauthor",
    "coapplicant",
    "advisor",
    "relative",
    "own_application",
    "similar_application",
    "recusal",
    "recusal_unit",
    "direction_expert",
)


KIND_ORDER = {k: i for i, k in enumerate(KINDS)}


TEAM_SCOPES = {"pi": frozenset({"pi"}), "key": frozenset({"pi", "key", "joint_leader"})}


DEFAULT_POLICY_FILE = Path(__file__).with_name("conflict_policy.toml")


class ConflictPolicyError(ValueError):
    """A conflict policy (file or override) that cannot be used."""


@dataclass(frozen=True)
class ConflictPolicy:
    """Which relations make an expert conflicted with a proposal (defaults: conflict_policy.toml).

    kinds: enabled conflict kinds (subset of KINDS). unit_reach ⊆ {parent, subsidiary, sibling},
    shareholding and shareholding_threshold: which units are related (:attr:`relatedness`, the
    definition screening reads too). Windows in whole years before the batch date / batch
    year. team_scope: pi | key | all (whose personal relations count).
    similarity_threshold: TF-IDF cosine in (0, 1] for ``similar_application``.
    """

    kinds: frozenset[str] = frozenset(KINDS)
    unit_reach: frozenset[str] = DEFAULT_REACH
    shareholding: bool = True
    shareholding_threshold: float = 0.25
    former_employment_years: int = 2
    coauthor_years: int = 3
    coapplicant_years: int = 3
    team_scope: str = "all"
    direction_applicant: bool = True
    similarity_threshold: float = 0.6

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", frozenset(self.kinds))
        object.__setattr__(self, "unit_reach", frozenset(self.unit_reach))
        bad = sorted(self.kinds - set(KINDS))
        if bad:
            raise ConflictPolicyError(
                f"unknown conflict kind(s) {', '.join(bad)}; use some of {', '.join(KINDS)}"
            )
        try:
            self.relatedness  # noqa: B018 - validates the unit keys
        except RelatednessError as exc:
            raise ConflictPolicyError(str(exc)) from None
        for name in ("former_employment_years", "coauthor_years", "coapplicant_years"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConflictPolicyError(f"{name} must be a whole number >= 0, got {v!r}")
        if self.team_scope not in ("pi", "key", "all"):
            raise ConflictPolicyError(
                f"team_scope must be 'pi', 'key' or 'all', got {self.team_scope!r}"
            )
        t = self.similarity_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise ConflictPolicyError(f"similarity_threshold must be in (0, 1], got {t!r}")
        if not isinstance(self.direction_applicant, bool):
            raise ConflictPolicyError("direction_applicant must be true or false")

    @property
    def relatedness(self) -> Relatedness:
        """Which units are related (关联单位), as the policy defines it."""
        return Relatedness(
            reach=self.unit_reach,
            shareholding=self.shareholding,
            shareholding_threshold=self.shareholding_threshold,
        )

    def team_roles(self, role: str | None) -> bool:
        """Whether a team member with this role is in scope for personal relations."""
        if self.team_scope == "all":
            return True
        return role in TEAM_SCOPES[self.team_scope]


def _policy_from_mapping(
    base: ConflictPolicy, data: Mapping[str, Any], where: str
) -> ConflictPolicy:
    names = {f.name for f in fields(ConflictPolicy)}
    bad = sorted(set(data) - names)
    if bad:
        raise ConflictPolicyError(
            f"{where}: unknown policy key(s) {', '.join(bad)}; "
            f"known keys: {', '.join(sorted(names))}"
        )
    values: dict[str, Any] = {}
    for k, v in data.items():
        if v is None:
            continue
        if k in ("kinds", "unit_reach"):
            if isinstance(v, str):
                v = [x.strip() for x in v.split(",") if x.strip()]
            v = frozenset(v)
        values[k] = v
    try:
        return replace(base, **values)
    except ConflictPolicyError as exc:
        raise ConflictPolicyError(f"{where}: {exc}") from None


def load_policy(path: str | Path | None = None, **overrides: Any) -> ConflictPolicy:
    """The default policy, updated by a TOML file (``path``) and then by keyword overrides.

    Overrides set to ``None`` are ignored (so a CLI can pass every option). Raises
    ConflictPolicyError naming the file and key for unknown keys or bad values.
    """
    with DEFAULT_POLICY_FILE.open("rb") as fh:
        policy = _policy_from_mapping(ConflictPolicy(), tomllib.load(fh), str(DEFAULT_POLICY_FILE))
    if path is not None:
        try:
            with Path(path).open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConflictPolicyError(
                f"conflict policy file {path} does not exist; give an existing TOML file"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConflictPolicyError(
                f"conflict policy file {path} is not valid TOML: {exc}"
            ) from None
        policy = _policy_from_mapping(policy, data, str(path))
    return _policy_from_mapping(policy, overrides, "override")
