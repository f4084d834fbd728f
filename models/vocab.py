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
OVERRIDE_ACTION = {"force_in": "强制入选", "force_out": "强制落选"}

# The organisation mode is stored in Chinese, as the call writes it; English codes are aliases.
MODE = {"定向委托": "directed", "揭榜挂帅": "open_call", "竞争择优": "competitive"}
