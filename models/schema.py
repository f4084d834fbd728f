"""The data model: SQLAlchemy 2 typed ORM covering the whole programme.

Imported tables carry their external ids; link tables have a surrogate ``id`` and a natural key
(``NATURAL_KEY``) that imports upsert by. Column ``info`` carries what the importer needs:
``zh`` (Chinese header alias), ``enum`` (allowed codes → Chinese labels), ``ref`` (the kind an
id refers to, checked on import). Money is in 万元 throughout.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.vocab import (
    ASSIGNMENT_STATUS,
    CREDIT_SUBJECT,
    DIRECTION_ROLE,
    EXPERT_KIND,
    EXPERT_LEVEL,
    MODE,
    OVERRIDE_ACTION,
    PUBLICATION_KIND,
    RATING,
    RELATION_KIND,
    SEVERITY,
    TEAM_ROLE,
    TITLE,
    UNIT_RELATION_KIND,
    UNIT_TYPE,
    VERDICT,
)


def col(
    zh: str = "",
    *,
    enum: dict[str, str] | None = None,
    ref: str | None = None,
    contact: bool = False,
) -> dict:
    """Column ``info`` for the importer: Chinese header alias, enum codes, referenced kind, and
    whether it holds contact details (kept out of every export but the invitations)."""
    info: dict[str, Any] = {"zh": zh}
    if enum is not None:
        info["enum"] = enum
    if ref is not None:
        info["ref"] = ref
    if contact:
        info["contact"] = True
    return info


class Base(DeclarativeBase):
    """Declarative base; ``KIND`` names a table that ``reviewopt import`` can load."""

    KIND: ClassVar[str | None] = None
    NATURAL_KEY: ClassVar[tuple[str, ...]] = ()


# --- the call ---------------------------------------------------------------------------------


class GuideDirection(Base):
    """指南方向: one guide direction of the call (code's first digit = programme)."""

    __tablename__ = "guide_directions"
    KIND = "guide"
    NATURAL_KEY = ("code",)

    code: Mapped[str] = mapped_column(String(8), primary_key=True, info=col("指南代码"))
    programme: Mapped[str] = mapped_column(String(64), info=col("专项"))
    title: Mapped[str | None] = mapped_column(String(256), info=col("指南方向"))
    cap_wan: Mapped[float | None] = mapped_column(Float, info=col("省拨经费上限"))
    max_years: Mapped[int | None] = mapped_column(Integer, info=col("实施周期"))
    mode: Mapped[str | None] = mapped_column(String(16), info=col("组织方式", enum=MODE))
    note: Mapped[str | None] = mapped_column(Text, info=col("备注"))
    organiser: Mapped[str | None] = mapped_column(String(256), info=col("组织单位"))
    research_content: Mapped[str | None] = mapped_column(Text, info=col("研发内容"))
    indicators: Mapped[str | None] = mapped_column(Text, info=col("考核指标"))
    remarks: Mapped[str | None] = mapped_column(Text, info=col("有关说明"))


class Batch(Base):
    """A review batch (one call round): the date conflicts are measured from, the deadline."""

    __tablename__ = "batches"
    KIND = "batches"
    NATURAL_KEY = ("batch_id",)

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True, info=col("批次"))
    name: Mapped[str] = mapped_column(String(128), info=col("名称"))
    year: Mapped[int] = mapped_column(Integer, info=col("年度"))
    batch_date: Mapped[dt.date] = mapped_column(Date, info=col("评审日期"))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime, info=col("截止时间"))
    # the scoring sheet: {criterion: max points}; empty = the default sheet
    sheet: Mapped[dict | None] = mapped_column(JSON, info={"internal": True})
    finalized_at: Mapped[dt.datetime | None] = mapped_column(DateTime, info={"internal": True})
    finalized_by: Mapped[str | None] = mapped_column(String(64), info={"internal": True})


# --- units and people -------------------------------------------------------------------------


class Unit(Base):
    """单位: a legal entity (university, institute, enterprise, ...)."""

    __tablename__ = "units"
    KIND = "units"
    NATURAL_KEY = ("unit_id",)

    unit_id: Mapped[str] = mapped_column(String(32), primary_key=True, info=col("单位编号"))
    name: Mapped[str] = mapped_column(String(256), info=col("单位名称"))
    type: Mapped[str] = mapped_column(String(16), info=col("单位类型", enum=UNIT_TYPE))
    city: Mapped[str | None] = mapped_column(String(32), info=col("城市"))
    province: Mapped[str] = mapped_column(String(32), info=col("省份"))
    credit_code: Mapped[str | None] = mapped_column(String(32), info=col("统一社会信用代码"))
    # a soft reference: units are loaded before people, so the head is not checked on import
    head_id: Mapped[str | None] = mapped_column(String(32), info=col("单位负责人"))
    # GB/T 2260 codes of the province and city, filled on import from the names (models.places)
    province_code: Mapped[str | None] = mapped_column(String(6), info=col("省份代码"))
    city_code: Mapped[str | None] = mapped_column(String(6), info=col("城市代码"))


class UnitRelation(Base):
    """Unit–unit relation: ``unit_id`` is parent of / controls / holds shares in the other."""

    __tablename__ = "unit_relations"
    __table_args__ = (UniqueConstraint("unit_id", "related_unit_id", "kind"),)
    KIND = "unit_relations"
    NATURAL_KEY = ("unit_id", "related_unit_id", "kind")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("单位编号", ref="units")
    )
    related_unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("关联单位编号", ref="units")
    )
    kind: Mapped[str] = mapped_column(String(16), info=col("关系", enum=UNIT_RELATION_KIND))
    share: Mapped[float | None] = mapped_column(Float, info=col("持股比例"))


class Person(Base):
    """人员: anyone who applies, works on a team or reviews."""

    __tablename__ = "people"
    KIND = "people"
    NATURAL_KEY = ("person_id",)

    person_id: Mapped[str] = mapped_column(String(32), primary_key=True, info=col("人员编号"))
    name: Mapped[str] = mapped_column(String(64), info=col("姓名"))
    unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("单位编号", ref="units")
    )
    birth_date: Mapped[dt.date | None] = mapped_column(Date, info=col("出生日期"))
    title: Mapped[str | None] = mapped_column(String(16), info=col("职称", enum=TITLE))
    # contact details: for inviting experts only; never in the audit log, --json or other exports
    phone: Mapped[str | None] = mapped_column(String(32), info=col("联系电话", contact=True))
    email: Mapped[str | None] = mapped_column(String(254), info=col("电子邮箱", contact=True))


class Employment(Base):
    """Employment history: past (or concurrent) posts with dates."""

    __tablename__ = "employment"
    __table_args__ = (UniqueConstraint("person_id", "unit_id", "start_date"),)
    KIND = "employment"
    NATURAL_KEY = ("person_id", "unit_id", "start_date")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("人员编号", ref="people")
    )
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("单位编号", ref="units")
    )
    start_date: Mapped[dt.date] = mapped_column(Date, info=col("开始日期"))
    end_date: Mapped[dt.date | None] = mapped_column(Date, info=col("结束日期"))


class Expert(Base):
    """专家: a person in the expert pool, with specialty and review limits."""

    __tablename__ = "experts"
    KIND = "experts"
    NATURAL_KEY = ("expert_id",)

    expert_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), primary_key=True, info=col("专家编号", ref="people")
    )
    disciplines: Mapped[str | None] = mapped_column(String(256), info=col("学科代码"))
    keywords: Mapped[str | None] = mapped_column(Text, info=col("关键词"))
    profile: Mapped[str | None] = mapped_column(Text, info=col("专业简介"))
    kind: Mapped[str] = mapped_column(String(16), info=col("专家类别", enum=EXPERT_KIND))
    level: Mapped[str | None] = mapped_column(String(1), info=col("专家级别", enum=EXPERT_LEVEL))
    province: Mapped[str | None] = mapped_column(String(32), info=col("所在省份"))
    max_load: Mapped[int | None] = mapped_column(Integer, info=col("评审上限"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, info=col("在库"))
    province_code: Mapped[str | None] = mapped_column(String(6), info=col("省份代码"))


class Publication(Base):
    """代表性成果: an expert's representative work (paper, patent, project...), read by the
    specialty match."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("expert_id", "title"),)
    KIND = "publications"
    NATURAL_KEY = ("expert_id", "title")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    expert_id: Mapped[str] = mapped_column(
        ForeignKey("experts.expert_id"), index=True, info=col("专家编号", ref="experts")
    )
    title: Mapped[str] = mapped_column(String(512), info=col("成果名称"))
    abstract: Mapped[str | None] = mapped_column(Text, info=col("摘要"))
    keywords: Mapped[str | None] = mapped_column(Text, info=col("关键词"))
    year: Mapped[int | None] = mapped_column(Integer, info=col("年份"))
    kind: Mapped[str | None] = mapped_column(
        String(16), info=col("成果类型", enum=PUBLICATION_KIND)
    )


class DirectionExpert(Base):
    """Experts who drafted a guide direction (指南编制) or sit on its advisory committee."""

    __tablename__ = "direction_experts"
    __table_args__ = (UniqueConstraint("person_id", "direction_code", "role"),)
    KIND = "direction_experts"
    NATURAL_KEY = ("person_id", "direction_code", "role")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), info=col("人员编号", ref="people")
    )
    direction_code: Mapped[str] = mapped_column(
        ForeignKey("guide_directions.code"), info=col("指南代码", ref="guide")
    )
    role: Mapped[str] = mapped_column(String(16), info=col("角色", enum=DIRECTION_ROLE))


class CreditPenalty(Base):
    """失信: a credit penalty on a unit or a person, active from start to end (open if empty)."""

    __tablename__ = "credit_penalties"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "start_date"),)
    KIND = "credit_penalties"
    NATURAL_KEY = ("subject_type", "subject_id", "start_date")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_type: Mapped[str] = mapped_column(String(8), info=col("对象类型", enum=CREDIT_SUBJECT))
    subject_id: Mapped[str] = mapped_column(String(32), index=True, info=col("对象编号"))
    start_date: Mapped[dt.date] = mapped_column(Date, info=col("开始日期"))
    end_date: Mapped[dt.date | None] = mapped_column(Date, info=col("结束日期"))
    reason: Mapped[str | None] = mapped_column(Text, info=col("原因"))


class Rating(Base):
    """Officers' rating of an expert's review work in one batch (good / fair / poor)."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("expert_id", "batch_id"),)
    KIND = "ratings"
    NATURAL_KEY = ("expert_id", "batch_id")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    expert_id: Mapped[str] = mapped_column(
        ForeignKey("experts.expert_id"), index=True, info=col("专家编号", ref="experts")
    )
    batch_id: Mapped[str] = mapped_column(String(32), info=col("批次"))
    rating: Mapped[str] = mapped_column(String(8), info=col("评价", enum=RATING))
    rated_on: Mapped[dt.date] = mapped_column(Date, info=col("评价日期"))


# --- proposals --------------------------------------------------------------------------------


class Proposal(Base):
    """重大攻关项目申报: one application under one guide direction."""

    __tablename__ = "proposals"
    KIND = "proposals"
    NATURAL_KEY = ("proposal_id",)

    proposal_id: Mapped[str] = mapped_column(String(32), primary_key=True, info=col("项目编号"))
    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.batch_id"), index=True, info=col("批次", ref="batches")
    )
    direction_code: Mapped[str] = mapped_column(
        ForeignKey("guide_directions.code"), index=True, info=col("指南代码", ref="guide")
    )
    title: Mapped[str] = mapped_column(String(256), info=col("项目名称"))
    lead_unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("牵头单位", ref="units")
    )
    pi_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("项目负责人", ref="people")
    )
    department: Mapped[str | None] = mapped_column(String(128), info=col("主管部门"))
    total_budget_wan: Mapped[float] = mapped_column(Float, info=col("总经费"))
    requested_wan: Mapped[float] = mapped_column(Float, info=col("申请省拨经费"))
    own_funds_wan: Mapped[float | None] = mapped_column(Float, info=col("自筹经费"))
    duration_years: Mapped[int | None] = mapped_column(Integer, info=col("实施周期"))
    keywords: Mapped[str | None] = mapped_column(Text, info=col("关键词"))
    abstract: Mapped[str | None] = mapped_column(Text, info=col("摘要"))
    disciplines: Mapped[str | None] = mapped_column(String(256), info=col("学科代码"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, info=col("提交时间"))


class JointDirection(Base):
    """联合攻关方向: one of a proposal's 3–5 joint research directions, each by its own unit."""

    __tablename__ = "joint_directions"
    __table_args__ = (UniqueConstraint("proposal_id", "seq"),)
    KIND = "joint_directions"
    NATURAL_KEY = ("proposal_id", "seq")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), index=True, info=col("项目编号", ref="proposals")
    )
    seq: Mapped[int] = mapped_column(Integer, info=col("序号"))
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("承担单位", ref="units")
    )
    leader_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.person_id"), info=col("负责人", ref="people")
    )
    task: Mapped[str | None] = mapped_column(Text, info=col("研究任务"))
    budget_wan: Mapped[float | None] = mapped_column(Float, info=col("经费"))


class TeamMember(Base):
    """A person on a proposal's team (PI, key member 骨干, member)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("proposal_id", "person_id"),)
    KIND = "team_members"
    NATURAL_KEY = ("proposal_id", "person_id")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), index=True, info=col("项目编号", ref="proposals")
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("人员编号", ref="people")
    )
    role: Mapped[str] = mapped_column(String(8), info=col("角色", enum=TEAM_ROLE))


class PersonRelation(Base):
    """Person–person relation (co-author, co-applicant, advisor, relative) with its last year."""

    __tablename__ = "person_relations"
    __table_args__ = (UniqueConstraint("person_id", "other_person_id", "kind"),)
    KIND = "person_relations"
    NATURAL_KEY = ("person_id", "other_person_id", "kind")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("人员编号", ref="people")
    )
    other_person_id: Mapped[str] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("关联人员编号", ref="people")
    )
    kind: Mapped[str] = mapped_column(String(16), info=col("关系", enum=RELATION_KIND))
    year: Mapped[int | None] = mapped_column(Integer, info=col("年份"))


class Recusal(Base):
    """申请人提出的回避: the applicant asks that an expert, or a unit's experts, not review."""

    __tablename__ = "recusals"
    __table_args__ = (UniqueConstraint("proposal_id", "person_id", "unit_id"),)
    KIND = "recusals"
    NATURAL_KEY = ("proposal_id", "person_id", "unit_id")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), index=True, info=col("项目编号", ref="proposals")
    )
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.person_id"), info=col("回避专家", ref="people")
    )
    unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.unit_id"), info=col("回避单位", ref="units")
    )
    reason: Mapped[str | None] = mapped_column(Text, info=col("理由"))


class InProgressProject(Base):
    """An in-progress provincial S&T project (在研项目), for the PI and 揭榜挂帅 rules."""

    __tablename__ = "in_progress_projects"
    KIND = "in_progress_projects"
    NATURAL_KEY = ("project_id",)

    project_id: Mapped[str] = mapped_column(String(32), primary_key=True, info=col("在研项目编号"))
    pi_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.person_id"), index=True, info=col("项目负责人", ref="people")
    )
    lead_unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.unit_id"), index=True, info=col("牵头单位", ref="units")
    )
    mode: Mapped[str | None] = mapped_column(String(16), info=col("组织方式", enum=MODE))
    start_year: Mapped[int | None] = mapped_column(Integer, info=col("开始年份"))
    end_year: Mapped[int | None] = mapped_column(Integer, info=col("结束年份"))


class Review(Base):
    """One expert's review of one proposal: criterion scores, weighted total, verdict."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("proposal_id", "expert_id"),)
    KIND = "reviews"
    NATURAL_KEY = ("proposal_id", "expert_id")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), index=True, info=col("项目编号", ref="proposals")
    )
    expert_id: Mapped[str] = mapped_column(
        ForeignKey("experts.expert_id"), index=True, info=col("专家编号", ref="experts")
    )
    innovation: Mapped[float] = mapped_column(Float, info=col("创新性"))
    feasibility: Mapped[float] = mapped_column(Float, info=col("技术路线与可行性"))
    team: Mapped[float] = mapped_column(Float, info=col("团队与基础"))
    prospects: Mapped[float] = mapped_column(Float, info=col("预期成果与产业化前景"))
    targets: Mapped[float] = mapped_column(Float, info=col("绩效目标"))
    total: Mapped[float] = mapped_column(Float, info=col("总分"))
    confidence: Mapped[int | None] = mapped_column(Integer, info=col("熟悉程度"))
    verdict: Mapped[str] = mapped_column(String(16), info=col("评审意见", enum=VERDICT))


# --- ground truth of synthetic batches (never read by the cores) ------------------------------


class TruthProposal(Base):
    """Synthetic batches only: a proposal's latent true merit (100-point scale)."""

    __tablename__ = "truth_proposals"
    KIND = "truth_proposals"
    NATURAL_KEY = ("proposal_id",)

    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), primary_key=True, info=col("", ref="proposals")
    )
    quality: Mapped[float] = mapped_column(Float, info=col(""))


class TruthExpert(Base):
    """Synthetic batches only: an expert's leniency (points) and noise (sd, points)."""

    __tablename__ = "truth_experts"
    KIND = "truth_experts"
    NATURAL_KEY = ("expert_id",)

    expert_id: Mapped[str] = mapped_column(
        ForeignKey("experts.expert_id"), primary_key=True, info=col("", ref="experts")
    )
    leniency: Mapped[float] = mapped_column(Float, info=col(""))
    noise_sd: Mapped[float] = mapped_column(Float, info=col(""))


class Planted(Base):
    """Synthetic batches only: an eligibility rule a proposal was generated to break."""

    __tablename__ = "planted"
    __table_args__ = (UniqueConstraint("proposal_id", "rule"),)
    KIND = "planted"
    NATURAL_KEY = ("proposal_id", "rule")

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(
        ForeignKey("proposals.proposal_id"), info=col("", ref="proposals")
    )
    rule: Mapped[str] = mapped_column(String(32), info=col(""))
    detail: Mapped[str | None] = mapped_column(Text, info=col(""))


# --- results of runs --------------------------------------------------------------------------


class Finding(Base):
    """A screening finding (形式审查): a rule a proposal breaks, and whether it was waived."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("proposal_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8), info=col(enum=SEVERITY))
    reason: Mapped[str] = mapped_column(Text)
    waived_reason: Mapped[str | None] = mapped_column(Text)
    waived_by: Mapped[str | None] = mapped_column(String(64))


class ScreeningStatus(Base):
    """Each proposal's screening outcome: eligible, rejected or warnings."""

    __tablename__ = "screening_status"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))


class Conflict(Base):
    """A conflicted (proposal, expert) pair with one reason chain."""

    __tablename__ = "conflicts"
    __table_args__ = (UniqueConstraint("proposal_id", "expert_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), index=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.expert_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)


class PoolExclusion(Base):
    """An expert set aside before assignment, with the reason (inactive, 超龄, 失信, ...)."""

    __tablename__ = "pool_exclusions"
    __table_args__ = (UniqueConstraint("batch_id", "expert_id", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.expert_id"))
    reason: Mapped[str] = mapped_column(Text)


class AssignmentRun(Base):
    """One assignment solve: mode, parameters, seed and the solver's figures."""

    __tablename__ = "assignment_runs"

    run_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))


class Assignment(Base):
    """An (expert, proposal) invitation of a run; reserves carry their rank (1 = first reserve)."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("run_id", "proposal_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assignment_runs.run_id"), index=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), index=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.expert_id"), index=True)
    affinity: Mapped[float | None] = mapped_column(Float)  # None: assigned outside reviewopt
    status: Mapped[str] = mapped_column(String(16), info=col(enum=ASSIGNMENT_STATUS))
    reserve_rank: Mapped[int | None] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)


class PanelMember(Base):
    """会评: a member of the panel for one group of proposals; ``leader`` marks the 组长."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("run_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assignment_runs.run_id"), index=True)
    group_id: Mapped[str] = mapped_column(String(64))
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.expert_id"))
    leader: Mapped[bool] = mapped_column(Boolean, default=False)


class PanelProposal(Base):
    """会评: a proposal the panel of one group hears in a panel run."""

    __tablename__ = "panel_proposals"
    __table_args__ = (UniqueConstraint("run_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("assignment_runs.run_id"), index=True)
    group_id: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"))


class Ranking(Base):
    """A proposal's calibrated score by one method, with its uncertainty."""

    __tablename__ = "rankings"
    __table_args__ = (UniqueConstraint("proposal_id", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    expected_rank: Mapped[float] = mapped_column(Float)
    rank_lo: Mapped[float] = mapped_column(Float)
    rank_hi: Mapped[float] = mapped_column(Float)
    n_reviews: Mapped[int] = mapped_column(Integer)


class Leniency(Base):
    """An expert's estimated leniency (points) by one method, with an 80 % interval."""

    __tablename__ = "leniencies"
    __table_args__ = (UniqueConstraint("expert_id", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    expert_id: Mapped[str] = mapped_column(ForeignKey("experts.expert_id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    leniency: Mapped[float] = mapped_column(Float)
    lo: Mapped[float] = mapped_column(Float)
    hi: Mapped[float] = mapped_column(Float)


class Decision(Base):
    """The funding decision for a proposal: selected, grant, alternate rank, P(selected)."""

    __tablename__ = "decisions"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), primary_key=True)
    selected: Mapped[bool] = mapped_column(Boolean)
    grant_wan: Mapped[float] = mapped_column(Float)
    calibrated_score: Mapped[float | None] = mapped_column(Float)
    p_selected: Mapped[float | None] = mapped_column(Float)
    alternate_rank: Mapped[int | None] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    # funded, rank, budget, direction_cap, quality_floor, one_per_pi, related_group,
    # young_share, override, ineligible, withdrawn (scoring.select_explain.REASON_CODES)
    reason_code: Mapped[str | None] = mapped_column(String(16))


class SelectionRun(Base):
    """One ``select`` run: its options (reused by the next run unless changed) and figures."""

    __tablename__ = "selection_runs"

    run_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.batch_id"), index=True)
    options: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    funded: Mapped[int] = mapped_column(Integer)
    grants_total_wan: Mapped[float] = mapped_column(Float)
    result_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))


class Override(Base):
    """A panel chair's override: force a proposal in or out, with the reason (audited)."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.proposal_id"), unique=True)
    action: Mapped[str] = mapped_column(String(16), info=col(enum=OVERRIDE_ACTION))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class BatchLock(Base):
    """A run holding a batch; a second run finds the row and waits or exits (code 5).

    The holder is a process (host, PID, the process's start time, the command); it beats
    ``heartbeat_at`` (the database's clock) while it runs, so that a lock whose holder is gone
    can be taken over.
    """

    __tablename__ = "batch_locks"

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    host: Mapped[str | None] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[float | None] = mapped_column(Float)  # seconds since the epoch
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    command: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """Who ran what, when, with which parameters and seed, on which input, giving which result."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer)
    input_digest: Mapped[str | None] = mapped_column(String(64))
    result_digest: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)


def contact_columns(cls: type[Base]) -> list[str]:
    """The columns of ``cls`` that hold contact details (phone, e-mail)."""
    return [
        c.name for c in Base.metadata.tables[cls.__tablename__].columns if c.info.get("contact")
    ]


IMPORT_KINDS: dict[str, type[Base]] = {
    cls.KIND: cls for cls in Base.__subclasses__() if cls.KIND is not None
}
"""Every importable kind, in an order where referenced kinds come first."""

# The workbench's and the job queue's tables (users, logins, jobs, uploads) are in their own
# module; importing it here puts them in ``Base.metadata`` with the rest.
from models import server_tables  # noqa: E402,F401
