"""Controlled vocabularies: the codes stored in the database and their Chinese labels.

Imports accept either the code or the label; the database holds the code, except for the
organisation mode, which the call itself names in Chinese and is stored as written there.
"""

from __future__ import annotations

UNIT_TYPE = {
    "university": "高校",
    "institute": "科研院所",
    "enterprise": "企业",
    "new_rnd": "新型研发机构",
    "lab": "实验室",
    "hospital": "医院",
    "other": "其他",
}
UNIT_RELATION_KIND = {"parent_of": "母公司", "controls": "控制", "shareholding": "参股"}
TITLE = {"senior": "正高", "associate": "副高", "intermediate": "中级", "other": "其他"}
EXPERT_KIND = {"academic": "科技", "industry": "产业", "finance": "财务"}
EXPERT_LEVEL = {"A": "A", "B": "B", "C": "C"}
DIRECTION_ROLE = {"drafter": "指南编制", "advisor": "咨询委员会"}
CREDIT_SUBJECT = {"unit": "单位", "person": "个人"}
RATING = {"good": "好", "fair": "一般", "poor": "较差"}
TEAM_ROLE = {"pi": "负责人", "key": "骨干", "member": "成员"}
RELATION_KIND = {
    "coauthor": "合著",
    "coapplicant": "合作申请",
    "advisor_of": "导师",
    "relative_of": "亲属",
}
VERDICT = {"recommend": "推荐", "reject": "不推荐", "abstain": "弃权"}
SEVERITY = {"reject": "不予受理", "warn": "提示"}
ASSIGNMENT_STATUS = {
    "invited": "已邀请",
    "accepted": "已接受",
    "declined": "已拒绝",
    "replaced": "已替换",
    "reserve": "候补",
}
PUBLICATION_KIND = {
    "paper": "论文",
    "monograph": "专著",
    "patent": "专利",
    "standard": "标准",
    "project": "项目",
    "award": "奖励",
    "other": "其他",
}
OVERRIDE_ACTION = {"force_in": "强制入选", "force_out": "强制落选"}
SCREENING_STATUS = {"eligible": "合格", "warnings": "有提示", "rejected": "不予受理"}
INVITATION_ROLE = {
    "assigned": "正式评审",
    "reserve": "候补",
    "panel_leader": "会评组长",
    "panel_member": "会评组员",
}

# The organisation mode is stored in Chinese, as the call writes it; English codes are aliases.
MODE = {"定向委托": "directed", "揭榜挂帅": "open_call", "竞争择优": "competitive"}


#: The columns of every importable kind, in file order: the CSV/XLSX formats, the frames the
#: cores read, and the generator's tables. The ORM in ``models.schema`` holds the same
#: columns (a test checks it); this copy has no database dependency, so the cores can use it.
FORMATS: dict[str, tuple[str, ...]] = {
    "guide": (
        "code",
        "programme",
        "title",
        "cap_wan",
        "max_years",
        "mode",
        "note",
        "organiser",
        "research_content",
        "indicators",
        "remarks",
    ),
    "batches": (
        "batch_id",
        "name",
        "year",
        "batch_date",
        "deadline",
    ),
    "units": (
        "unit_id",
        "name",
        "type",
        "city",
        "province",
        "credit_code",
        "head_id",
        "province_code",
        "city_code",
    ),
    "unit_relations": (
        "unit_id",
        "related_unit_id",
        "kind",
        "share",
    ),
    "people": (
        "person_id",
        "name",
        "unit_id",
        "birth_date",
        "title",
        "phone",
        "email",
    ),
    "employment": (
        "person_id",
        "unit_id",
        "start_date",
        "end_date",
    ),
    "experts": (
        "expert_id",
        "disciplines",
        "keywords",
        "profile",
        "kind",
        "level",
        "province",
        "max_load",
        "active",
        "province_code",
    ),
    "publications": (
        "expert_id",
        "title",
        "abstract",
        "keywords",
        "year",
        "kind",
    ),
    "direction_experts": (
        "person_id",
        "direction_code",
        "role",
    ),
    "credit_penalties": (
        "subject_type",
        "subject_id",
        "start_date",
        "end_date",
        "reason",
    ),
    "ratings": (
        "expert_id",
        "batch_id",
        "rating",
        "rated_on",
    ),
    "proposals": (
        "proposal_id",
        "batch_id",
        "direction_code",
        "title",
        "lead_unit_id",
        "pi_id",
        "department",
        "total_budget_wan",
        "requested_wan",
        "own_funds_wan",
        "duration_years",
        "keywords",
        "abstract",
        "disciplines",
        "submitted_at",
    ),
    "joint_directions": (
        "proposal_id",
        "seq",
        "unit_id",
        "leader_id",
        "task",
        "budget_wan",
    ),
    "team_members": (
        "proposal_id",
        "person_id",
        "role",
    ),
    "person_relations": (
        "person_id",
        "other_person_id",
        "kind",
        "year",
    ),
    "recusals": (
        "proposal_id",
        "person_id",
        "unit_id",
        "reason",
    ),
    "in_progress_projects": (
        "project_id",
        "pi_id",
        "lead_unit_id",
        "mode",
        "start_year",
        "end_year",
    ),
    "reviews": (
        "proposal_id",
        "expert_id",
        "innovation",
        "feasibility",
        "team",
        "prospects",
        "targets",
        "total",
        "confidence",
        "verdict",
    ),
    "truth_proposals": (
        "proposal_id",
        "quality",
    ),
    "truth_experts": (
        "expert_id",
        "leniency",
        "noise_sd",
    ),
    "planted": (
        "proposal_id",
        "rule",
        "detail",
    ),
}
