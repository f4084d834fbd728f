"""The registry of screening rules: each check is registered with its severity and the clause
of the call it implements (the words that make a clause a prohibition or soften it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assign.screening_context import SEVERITIES, Finding, ScreeningConfigError, ScreeningContext

#: Words of the call that make a clause a prohibition or an obligation (a reject may rest on
#: them) and words that soften it (a reject may not: 原则上 "in principle", 一般 "generally").
PROHIBITIONS = ("不得", "不予受理", "严禁", "必须", "须", "应", "只能", "取消", "不超过")
HEDGES = ("原则上", "一般")


@dataclass(frozen=True)
class Rule:
    """A screening rule: id (as in the planted table), severity, check, and what it rests on.

    severity: of a breach of the clause (reject | warn). summary: what the rule checks
    (English, in the message catalogue). section: where the call says it (e.g. 一、5; empty for
    a rule of practice). clause: the call's words, quoted in Chinese ("……" where words are left
    out; empty for a rule of practice). why: why that severity, from the clause's wording.
    """

    rule_id: str
    severity: str
    check: Callable[[ScreeningContext], list[Finding]]
    summary: str
    section: str
    clause: str
    why: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ScreeningConfigError(f"rule {self.rule_id}: unknown severity {self.severity}")


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: str, summary: str, *, section: str, clause: str, why: str
) -> Callable[[Callable[[ScreeningContext], list[Finding]]], Callable[..., list[Finding]]]:
    """Register a check function under ``rule_id`` with the clause it implements."""

    def wrap(fn: Callable[[ScreeningContext], list[Finding]]) -> Callable[..., list[Finding]]:
        RULES[rule_id] = Rule(rule_id, severity, fn, summary, section, clause, why)
        return fn

    return wrap
