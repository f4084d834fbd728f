"""The table of screening rules: generated from the code, every rule in it, each severity borne
out by the words of the call it quotes, and every quote found in the call as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assign.screening import HEDGES, PROHIBITIONS, RULES
from scripts.screening_rules import FILES, main, table

ROOT = Path(__file__).resolve().parents[1]
CALL = (ROOT / "data" / "seed_2024_call.txt").read_text(encoding="utf-8")


def _squeeze(text: str) -> str:
    """Text without white space (the seed breaks lines and pages inside sentences)."""
    return re.sub(r"\s+", "", text)


def test_the_committed_tables_are_what_the_code_generates() -> None:
    for lang, path in FILES.items():
        assert path.read_text(encoding="utf-8") == table(lang), (
            f"{path.name} is stale: run python -m scripts.screening_rules"
        )
    assert main(["--check"]) == 0


@pytest.mark.parametrize("lang", sorted(FILES))
def test_every_rule_id_appears_in_the_table(lang: str) -> None:
    text = FILES[lang].read_text(encoding="utf-8")
    ids = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M)
    assert ids == list(RULES)


@pytest.mark.parametrize("rule", [r for r in RULES.values() if r.severity == "reject"])
def test_every_reject_quotes_a_prohibition_of_the_call(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.section and rule.clause, f"{rule.rule_id} rejects without quoting the call"
    assert any(word in rule.clause for word in PROHIBITIONS), rule.rule_id
    assert not any(word in rule.clause for word in HEDGES), (
        f"{rule.rule_id} rejects on a clause the call softens ({', '.join(HEDGES)})"
    )


def test_softened_clauses_and_practice_only_warn() -> None:
    for rule in RULES.values():
        if not rule.clause or any(word in rule.clause for word in HEDGES):
            assert rule.severity == "warn", rule.rule_id


@pytest.mark.parametrize("rule", [r for r in RULES.values() if r.clause])
def test_every_clause_is_quoted_as_the_call_writes_it(rule) -> None:  # type: ignore[no-untyped-def]
    call = _squeeze(CALL)
    for part in rule.clause.split("……"):
        assert _squeeze(part) in call, f"{rule.rule_id}: {part!r} is not in the call"


def test_the_funding_limits_warn_and_duration_rejects() -> None:
    """The call's 一、5 and each direction's cap are worded 原则上 / 通过评审后: warnings;
    项目执行期不超过3年 has no 原则上: a reject."""
    severities = {r: RULES[r].severity for r in ("funding_share", "funding_max", "direction_cap")}
    assert severities == dict.fromkeys(severities, "warn")
    assert RULES["duration"].severity == "reject"
