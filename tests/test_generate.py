"""Tests for the synthetic batch generator (data.generate)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from data.generate import (
    COLUMNS,
    DEADLINE,
    PLANTABLE_RULES,
    GenerateInputError,
    generate_batch,
    write_batch,
)

MODES = ("定向委托", "竞争择优", "揭榜挂帅")


def _guide() -> pd.DataFrame:
    """A small hand-made guide: 6 usable directions, one without a title, mixed caps/modes."""
    spec = [
        ("1001", "第三代半导体", "GaN高压功率集成材料及器件研发", 2000.0, 3.0, "定向委托"),
        ("2001", "6G技术", "6G全云化无蜂窝智能无线接入网系统研发", 1500.0, 4.0, "竞争择优"),
        ("3001", "人工智能", "垂直领域大模型关键技术研发与场景应用", 1000.0, np.nan, "揭榜挂帅"),
        ("2003", "6G技术", "6G多域协同基带电路生成/优化软件研发", np.nan, np.nan, "竞争择优"),
        ("6002", "生物医药", "原创靶点发现与抗体大分子靶向药物研发", 1500.0, 5.0, "竞争择优"),
        ("9004", "氢能与储能", "聚合物氧化物复合全固态动力电池研发", 2000.0, 4.0, "揭榜挂帅"),
        ("2004", "6G技术", "", 2000.0, 3.0, "定向委托"),
    ]
    content = {
        "1001": "开展GaN功率集成和高压器件关键材料研发，具体包括："
        "新型Si衬底GaN外延材料生长及结构设计；"
        "高压隔离结构对串扰效应的抑制机制；制备200V半桥集成电路芯片并实现应用验证；"
        "GaN纵向功率器件的材料外延生长和器件工艺制备；高耐压器件的短路耐受机理和失效机理。",
        "2001": "研究无蜂窝架构下的分布式协作传输；研发全云化基带处理平台；"
        "设计智能无线资源调度算法；"
        "构建端到端网络切片与编排系统；开展外场组网试验验证；研制原型样机并完成互联互通测试。",
        "3001": "研发面向垂直行业的大模型训练框架；构建高质量行业语料库与知识图谱；"
        "研究模型压缩与高效推理技术；开展检索增强生成与智能体技术研究；"
        "在制造、医疗、金融等场景开展示范应用；建立大模型安全评测体系。",
        "2003": "研究基带电路自动生成方法；开发多域协同优化软件工具；构建算法到电路的映射模型；"
        "开展功耗面积时序联合优化；建立基带电路验证平台；实现典型通信算法的电路自动生成。",
        "6002": "建立原创靶点发现与验证技术平台；开展抗体分子人源化改造与亲和力成熟；"
        "研究双特异性抗体设计与表达工艺；开展药效学与安全性评价；完成候选药物临床前研究；"
        "推进创新药物进入临床试验。",
        "9004": "研发聚合物与氧化物复合固态电解质；研究电极与电解质界面稳定化技术；"
        "开发高镍正极与锂金属负极匹配工艺；研制高能量密度全固态电芯；"
        "开展电池模组安全性与循环寿命测试；建立中试生产线。",
        "2004": "",
    }
    rows = []
    for code, prog, title, cap, years, mode in spec:
        rows.append(
            {
                "code": code,
                "programme": prog,
                "title": title,
                "cap_wan": cap,
                "max_years": years,
                "mode": mode,
                "note": None,
                "organiser": None,
                "research_content": content[code],
                "indicators": None,
                "remarks": None,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def guide() -> pd.DataFrame:
    return _guide()


@pytest.fixture(scope="module")
def batch(guide: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return generate_batch(guide, n_experts=200, planted_share=0.3, seed=7)


# --------------------------------------------------------------------------------------------
# an independent checker of the screening rules the generator must respect


def _empty(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v == ""


def violations(t: dict[str, pd.DataFrame]) -> set[tuple[str, str]]:
    """(proposal_id, rule) for every rule break found by straightforward checks."""
    out: set[tuple[str, str]] = set()
    props = t["proposals"]
    guide = t["guide"].set_index(t["guide"]["code"].astype(str))
    units = t["units"].set_index("unit_id")
    people = t["people"].set_index("person_id")
    jd = t["joint_directions"]
    batch_date = pd.Timestamp(t["batches"]["batch_date"].iloc[0])
    deadline = pd.Timestamp(t["batches"]["deadline"].iloc[0])
    g = nx.Graph()
    g.add_edges_from(
        zip(t["unit_relations"]["unit_id"], t["unit_relations"]["related_unit_id"], strict=False)
    )
    comp = {u: i for i, c in enumerate(nx.connected_components(g)) for u in c}
    ip = t["in_progress_projects"]
    ip_pis = set(ip.loc[ip["end_year"] >= 2024, "pi_id"])
    ip_open_units = set(
        ip.loc[(ip["mode"] == "揭榜挂帅") & (ip["end_year"] >= 2024), "lead_unit_id"]
    )
    ip_undirected_units = set(
        ip.loc[(ip["mode"] != "定向委托") & (ip["end_year"] >= 2024), "lead_unit_id"]
    )
    pen = t["credit_penalties"]
    active = pen[
        (pd.to_datetime(pen["start_date"]) <= batch_date)
        & (pen["end_date"].isna() | (pd.to_datetime(pen["end_date"]) >= deadline))
    ]
    bad_subjects = set(active["subject_id"])
    emp = t["employment"]
    current_emp = set(
        zip(
            emp.loc[emp["end_date"].isna(), "person_id"],
            emp.loc[emp["end_date"].isna(), "unit_id"],
            strict=False,
        )
    )
    jd_by = {pid: grp for pid, grp in jd.groupby("proposal_id")}
    for _, p in props.iterrows():
        pid = p["proposal_id"]
        d = guide.loc[str(p["direction_code"])]
        rows = jd_by.get(pid, jd.iloc[0:0]).sort_values("seq")
        uids = list(rows["unit_id"])
        lead = p["lead_unit_id"]
        ltype = units.loc[lead, "type"]
        if any(units.loc[u, "province"] != "江苏" for u in uids + [lead]):
            out.add((pid, "units_in_jiangsu"))
        if ltype in ("university", "institute", "new_rnd") and not any(
            units.loc[u, "type"] == "enterprise" for u in uids[1:]
        ):
            out.add((pid, "enterprise_partner"))
        comps = [comp.get(u, u) for u in uids]
        if len(set(comps)) < len(comps):
            out.add((pid, "related_joint_units"))
        if (
            not 3 <= len(uids) <= 5
            or len(set(uids)) != len(uids)
            or not uids
            or uids[0] != lead
            or list(rows["seq"]) != list(range(1, len(uids) + 1))
        ):
            out.add((pid, "joint_directions"))
        pi = p["pi_id"]
        if people.loc[pi, "unit_id"] != lead and (pi, lead) not in current_emp:
            out.add((pid, "pi_employed"))
        if d["mode"] != "定向委托" and pi in ip_pis:
            out.add((pid, "pi_in_progress"))
        if d["mode"] == "揭榜挂帅" and lead in ip_open_units:
            out.add((pid, "open_call_lead_in_progress"))
        if d["mode"] == "竞争择优" and ltype == "enterprise" and lead in ip_undirected_units:
            out.add((pid, "competitive_lead_in_progress"))
        if pd.Timestamp(p["submitted_at"]) > deadline:
            out.add((pid, "deadline"))
        share = 0.3 if ltype == "enterprise" else 0.5
        if p["requested_wan"] > share * p["total_budget_wan"]:
            out.add((pid, "funding_share"))
        if p["requested_wan"] > 2000:
            out.add((pid, "funding_max"))
        if not _empty(d["cap_wan"]) and p["requested_wan"] > float(d["cap_wan"]):
            out.add((pid, "direction_cap"))
        max_years = 5 if _empty(d["max_years"]) else int(d["max_years"])
        if p["duration_years"] > max_years or not 3 <= p["duration_years"] <= 5:
            out.add((pid, "duration"))
        if any(u in bad_subjects for u in uids + [lead]) or pi in bad_subjects:
            out.add((pid, "credit"))
        if p["own_funds_wan"] + p["requested_wan"] < p["total_budget_wan"] - 1e-9:
            out.add((pid, "own_funds"))
    # one application per PI (not 定向委托)
    modes = props["direction_code"].astype(str).map(guide["mode"])
    nd = props[modes != "定向委托"]
    for _, grp in nd.groupby("pi_id"):
        if len(grp) > 1:
            out.update((pid, "one_per_pi") for pid in grp["proposal_id"])
    out.update((pid, "young_share") for pid in young_share_failures(t))
    return out


def young_of(t: dict[str, pd.DataFrame]) -> pd.Series:
    """proposal_id → has a young (born ≥ 1984-01-01) PI or key member."""
    tm = t["team_members"].merge(t["people"][["person_id", "birth_date"]], on="person_id")
    tm = tm[tm["role"].isin(["pi", "key"])]
    young = tm["birth_date"] >= "1984-01-01"
    return (
        young.groupby(tm["proposal_id"])
        .any()
        .reindex(t["proposals"]["proposal_id"], fill_value=False)
    )


def young_share_failures(t: dict[str, pd.DataFrame], subset: set[str] | None = None) -> list[str]:
    props = t["proposals"]
    if subset is not None:
        props = props[props["proposal_id"].isin(subset)]
    y = young_of(t)
    bad: list[str] = []
    for _, grp in props.groupby("department"):
        if y.loc[grp["proposal_id"]].mean() < 0.4:
            bad.extend(grp["proposal_id"])
    return bad


# --------------------------------------------------------------------------------------------
# structure


def test_every_kind_has_exactly_the_format_columns(batch: dict[str, pd.DataFrame]) -> None:
    assert set(batch) == set(COLUMNS)
    for kind, cols in COLUMNS.items():
        assert tuple(batch[kind].columns) == cols, kind


def test_guide_passed_through_and_batch_row(batch, guide) -> None:
    pd.testing.assert_frame_equal(batch["guide"], guide)
    b = batch["batches"]
    assert b.to_dict("records") == [
        {
            "batch_id": "2024",
            "name": "2024年度省科技重大专项",
            "year": 2024,
            "batch_date": "2024-09-01",
            "deadline": "2024-08-05 17:30",
        }
    ]


@pytest.mark.parametrize(
    "kind,key",
    [
        ("units", ["unit_id"]),
        ("people", ["person_id"]),
        ("experts", ["expert_id"]),
        ("proposals", ["proposal_id"]),
        ("in_progress_projects", ["project_id"]),
        ("joint_directions", ["proposal_id", "seq"]),
        ("team_members", ["proposal_id", "person_id"]),
        ("direction_experts", ["person_id", "direction_code"]),
        ("ratings", ["expert_id", "batch_id"]),
        ("planted", ["proposal_id", "rule"]),
        ("truth_proposals", ["proposal_id"]),
        ("truth_experts", ["expert_id"]),
    ],
)
def test_ids_unique(batch, kind: str, key: list[str]) -> None:
    assert not batch[kind].duplicated(key).any()


def test_unit_names_and_credit_codes_unique(batch) -> None:
    u = batch["units"]
    assert u["name"].is_unique
    assert u["credit_code"].is_unique
    assert (u["credit_code"].str.len() == 18).all()


def test_references_resolve(batch) -> None:
    units = set(batch["units"]["unit_id"])
    people = set(batch["people"]["person_id"])
    experts = set(batch["experts"]["expert_id"])
    props = set(batch["proposals"]["proposal_id"])
    codes = set(batch["guide"].loc[batch["guide"]["title"] != "", "code"])
    refs = [
        ("units", "head_id", people),
        ("unit_relations", "unit_id", units),
        ("unit_relations", "related_unit_id", units),
        ("people", "unit_id", units),
        ("employment", "person_id", people),
        ("employment", "unit_id", units),
        ("experts", "expert_id", people),
        ("direction_experts", "person_id", experts),
        ("direction_experts", "direction_code", codes),
        ("ratings", "expert_id", experts),
        ("proposals", "direction_code", codes),
        ("proposals", "lead_unit_id", units),
        ("proposals", "pi_id", people),
        ("joint_directions", "proposal_id", props),
        ("joint_directions", "unit_id", units),
        ("joint_directions", "leader_id", people),
        ("team_members", "proposal_id", props),
        ("team_members", "person_id", people),
        ("person_relations", "person_id", people),
        ("person_relations", "other_person_id", people),
        ("recusals", "proposal_id", props),
        ("recusals", "person_id", experts),
        ("recusals", "unit_id", units),
        ("in_progress_projects", "pi_id", people),
        ("in_progress_projects", "lead_unit_id", units),
        ("truth_proposals", "proposal_id", props),
        ("truth_experts", "expert_id", experts),
        ("planted", "proposal_id", props),
    ]
    for kind, col, pool in refs:
        vals = batch[kind][col].dropna()
        missing = set(vals) - pool
        assert not missing, (kind, col, sorted(missing)[:3])
    pen = batch["credit_penalties"]
    assert set(pen.loc[pen["subject_type"] == "unit", "subject_id"]) <= units
    assert set(pen.loc[pen["subject_type"] == "person", "subject_id"]) <= people
    assert set(batch["truth_experts"]["expert_id"]) == experts
    assert set(batch["truth_proposals"]["proposal_id"]) == props


def test_enum_values(batch) -> None:
    assert set(batch["units"]["type"]) <= {
        "university",
        "institute",
        "enterprise",
        "new_rnd",
        "lab",
        "hospital",
        "other",
    }
    assert set(batch["unit_relations"]["kind"]) <= {"parent_of", "controls", "shareholding"}
    assert set(batch["people"]["title"]) <= {"senior", "associate", "intermediate", "other"}
    assert set(batch["experts"]["kind"]) == {"academic", "industry", "finance"}
    assert set(batch["experts"]["level"]) == {"A", "B", "C"}
    assert set(batch["direction_experts"]["role"]) <= {"drafter", "advisor"}
    assert set(batch["ratings"]["rating"]) <= {"good", "fair", "poor"}
    assert set(batch["team_members"]["role"]) == {"pi", "key", "member"}
    rel = batch["person_relations"]
    assert set(rel["kind"]) == {"coauthor", "coapplicant", "advisor_of", "relative_of"}
    assert rel.loc[rel["kind"] == "relative_of", "year"].isna().all()
    years = rel.loc[rel["kind"].isin(["coauthor", "coapplicant"]), "year"]
    assert years.between(2016, 2023).all()
    assert (years >= 2021).any() and (years < 2021).any()  # inside and outside a 3-year window
    assert set(batch["in_progress_projects"]["mode"]) <= set(MODES)
    assert (rel["person_id"] != rel["other_person_id"]).all()


def test_joint_directions_shape(batch) -> None:
    jd = batch["joint_directions"]
    props = batch["proposals"].set_index("proposal_id")
    for pid, grp in jd.groupby("proposal_id"):
        grp = grp.sort_values("seq")
        assert 3 <= len(grp) <= 5
        assert list(grp["seq"]) == list(range(1, len(grp) + 1))
        assert grp["unit_id"].is_unique
        assert grp["unit_id"].iloc[0] == props.loc[pid, "lead_unit_id"]
        assert grp["leader_id"].iloc[0] == props.loc[pid, "pi_id"]
        assert grp["budget_wan"].sum() == pytest.approx(props.loc[pid, "total_budget_wan"])
        assert (grp["budget_wan"] > 0).all()
    assert set(jd["proposal_id"]) == set(props.index)


def test_team_roles(batch) -> None:
    tm = batch["team_members"]
    props = batch["proposals"].set_index("proposal_id")
    for pid, grp in tm.groupby("proposal_id"):
        pis = grp.loc[grp["role"] == "pi", "person_id"].tolist()
        assert pis == [props.loc[pid, "pi_id"]]
        assert 2 <= (grp["role"] == "key").sum() <= 4


def test_some_experts_are_on_teams_and_some_head_units(batch) -> None:
    experts = set(batch["experts"]["expert_id"])
    assert experts & set(batch["team_members"]["person_id"])
    assert experts & set(batch["units"]["head_id"].dropna())


def test_expert_pool_mix(batch) -> None:
    e = batch["experts"]
    people = batch["people"].set_index("person_id")
    assert (e["province"] == "江苏").mean() == pytest.approx(0.6, abs=0.1)
    assert e["active"].dtype == bool and 0.85 < e["active"].mean() < 1.0
    born = people.loc[e["expert_id"], "birth_date"]
    assert (born < "1954-09-01").sum() >= 2  # over 70 on the batch date
    assert e["max_load"].isna().mean() > 0.8
    units = batch["units"].set_index("unit_id")
    assert (
        units.loc[people.loc[e["expert_id"], "unit_id"], "province"].to_numpy() == e["province"]
    ).all()
    r = batch["ratings"].sort_values("rated_on").groupby("expert_id")["rating"]
    last_two_poor = r.apply(lambda s: list(s.tail(2)) == ["poor", "poor"])
    assert last_two_poor.sum() >= 2
    pen = batch["credit_penalties"]
    assert (pen["subject_type"] == "person").sum() >= 2
    assert set(pen.loc[pen["subject_type"] == "person", "subject_id"]) <= set(e["expert_id"])


def test_expert_keywords_come_from_direction_texts(batch, guide) -> None:
    text = "".join(guide["research_content"]) + "".join(guide["title"])
    kws = batch["experts"]["keywords"].str.split(";").explode()
    assert kws.map(lambda k: k in text).mean() > 0.5


# --------------------------------------------------------------------------------------------
# the rules


def test_non_planted_proposals_pass_every_rule(batch) -> None:
    planted = set(batch["planted"]["proposal_id"])
    found = violations(batch)
    clean_breaks = {(p, r) for p, r in found if p not in planted and r != "young_share"}
    assert not clean_breaks


def test_each_planted_break_is_really_there_and_alone(batch) -> None:
    found = violations(batch)
    planted = batch["planted"]
    assert planted["proposal_id"].is_unique  # exactly one rule each
    assert set(planted["rule"]) <= set(PLANTABLE_RULES)
    got = {(p, r) for p, r in found if r != "young_share"}
    assert got == set(zip(planted["proposal_id"], planted["rule"], strict=False))


def test_all_rules_planted_at_a_generous_share(batch) -> None:
    assert set(batch["planted"]["rule"]) == set(PLANTABLE_RULES)
    props = batch["proposals"]
    n = len(props)
    assert len(batch["planted"]) == round(0.3 * n)


def test_one_per_pi_pairs_listed_both(batch) -> None:
    pl = batch["planted"]
    props = batch["proposals"].set_index("proposal_id")
    ids = pl.loc[pl["rule"] == "one_per_pi", "proposal_id"]
    assert len(ids) % 2 == 0 and len(ids) >= 2
    assert props.loc[ids, "pi_id"].value_counts().eq(2).all()


def test_young_share_per_department(batch) -> None:
    assert not young_share_failures(batch)
    clean = set(batch["proposals"]["proposal_id"]) - set(batch["planted"]["proposal_id"])
    assert not young_share_failures(batch, clean)


def test_money_shape(batch) -> None:
    p = batch["proposals"]
    clean = ~p["proposal_id"].isin(batch["planted"]["proposal_id"])
    assert (
        p.loc[clean, "own_funds_wan"] + p.loc[clean, "requested_wan"]
        >= p.loc[clean, "total_budget_wan"]
    ).all()
    assert (p["requested_wan"] > 0).all()
    assert p["duration_years"].between(3, 5).all()
    assert (p["submitted_at"].str.len() == 16).all()
    assert (p.loc[clean, "submitted_at"] <= "2024-08-05 17:29").all()


def test_no_near_duplicate_texts_within_a_direction(batch) -> None:
    p = batch["proposals"]
    text = (p["title"] + " " + p["abstract"]).tolist()
    m = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit_transform(text)
    sim = (m @ m.T).toarray()
    same_dir = p["direction_code"].to_numpy()[:, None] == p["direction_code"].to_numpy()[None, :]
    np.fill_diagonal(same_dir, False)
    assert sim[same_dir].max() < 0.6


def test_conflict_material_present(batch) -> None:
    """Experts tied to team members and to applicant units, so that conflicts arise."""
    experts = set(batch["experts"]["expert_id"])
    team = set(batch["team_members"]["person_id"])
    rel = batch["person_relations"]
    tie = (rel["person_id"].isin(experts) & rel["other_person_id"].isin(team)) | (
        rel["other_person_id"].isin(experts) & rel["person_id"].isin(team)
    )
    assert tie.mean() > 0.5
    emp = batch["employment"]
    applicant_units = set(batch["joint_directions"]["unit_id"])
    past = emp[emp["person_id"].isin(experts) & emp["unit_id"].isin(applicant_units)]
    assert (past["end_date"] >= "2023-01-01").any()  # left about a year ago
    assert (past["end_date"] <= "2021-08-31").any()  # left three or more years ago
    rec = batch["recusals"]
    assert rec["unit_id"].notna().any() and rec["person_id"].notna().any()
    assert (rec["unit_id"].isna() ^ rec["person_id"].isna()).all()
    assert rec.groupby("proposal_id").size().max() <= 3
    assert len(batch["direction_experts"]) >= 2 * 6


# --------------------------------------------------------------------------------------------
# parameters, determinism, output


def test_scale_parameters_honoured(guide) -> None:
    t = generate_batch(guide, n_experts=150, n_proposals=53, n_relations=777, seed=3)
    assert len(t["proposals"]) == 53
    assert len(t["experts"]) == 150
    assert len(t["person_relations"]) == 777
    counts = t["proposals"]["direction_code"].value_counts()
    assert set(counts.index) == {"1001", "2001", "3001", "2003", "6002", "9004"}
    assert counts.max() - counts.min() <= 1
    assert len(t["planted"]) == round(0.12 * 53)


def test_range_per_direction(guide) -> None:
    t = generate_batch(guide, n_experts=100, proposals_per_direction=(2, 4), seed=5)
    counts = t["proposals"]["direction_code"].value_counts()
    assert counts.between(2, 4).all() and len(counts) == 6


def test_no_planting(guide) -> None:
    t = generate_batch(guide, n_experts=100, planted_share=0.0, seed=2)
    assert t["planted"].empty
    assert {r for _, r in violations(t)} == set()


def _digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_deterministic_csv_bytes(guide, tmp_path: Path) -> None:
    a = write_batch(generate_batch(guide, n_experts=80, seed=11), tmp_path / "a")
    b = write_batch(generate_batch(guide, n_experts=80, seed=11), tmp_path / "b")
    c = write_batch(generate_batch(guide, n_experts=80, seed=12), tmp_path / "c")
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_write_batch_files(batch, tmp_path: Path) -> None:
    paths = write_batch(batch, tmp_path / "out")
    assert [p.name for p in paths] == [f"{k}.csv" for k in batch]
    experts = pd.read_csv(tmp_path / "out" / "experts.csv", dtype=str, keep_default_na=False)
    assert set(experts["active"]) == {"true", "false"}
    assert tuple(experts.columns) == COLUMNS["experts"]
    assert "" in set(experts["max_load"]) and not experts["max_load"].str.contains(r"\.").any()
    props = pd.read_csv(tmp_path / "out" / "proposals.csv", dtype=str, keep_default_na=False)
    assert props["submitted_at"].str.fullmatch(r"2024-\d\d-\d\d \d\d:\d\d").all()
    rel = pd.read_csv(tmp_path / "out" / "person_relations.csv", dtype=str, keep_default_na=False)
    assert not rel["year"].str.contains(r"\.").any()


def test_does_not_mutate_guide(guide) -> None:
    before = guide.copy()
    generate_batch(guide, n_experts=60, seed=1)
    pd.testing.assert_frame_equal(guide, before)


def test_bad_input_messages(guide) -> None:
    with pytest.raises(GenerateInputError, match=r"guide is missing column\(s\) cap_wan"):
        generate_batch(guide.drop(columns=["cap_wan"]))
    with pytest.raises(GenerateInputError, match="no direction with a title"):
        generate_batch(guide.assign(title=""))
    with pytest.raises(GenerateInputError, match=r"proposals_per_direction must be \(lo, hi\)"):
        generate_batch(guide, proposals_per_direction=(5, 2))
    with pytest.raises(GenerateInputError, match=r"planted_share must be in \[0, 0.5\], got 0.9"):
        generate_batch(guide, planted_share=0.9)
    with pytest.raises(GenerateInputError, match="n_experts must be at least 20, got 5"):
        generate_batch(guide, n_experts=5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rules_hold_over_seeds(guide, seed: int) -> None:
    t = generate_batch(guide, n_experts=120, planted_share=0.2, seed=seed)
    got = {(p, r) for p, r in violations(t) if r != "young_share"}
    assert got == set(zip(t["planted"]["proposal_id"], t["planted"]["rule"], strict=False))
    assert not young_share_failures(t)


def test_deadline_constant() -> None:
    assert DEADLINE == "2024-08-05 17:30"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_real_guide_default_size(seed: int) -> None:
    build_guide = pytest.importorskip("data.build_guide")
    guide = build_guide.load_guide()
    t = generate_batch(guide, seed=seed)
    got = {(p, r) for p, r in violations(t) if r != "young_share"}
    assert got == set(zip(t["planted"]["proposal_id"], t["planted"]["rule"], strict=True))
    assert set(t["planted"]["rule"]) == set(PLANTABLE_RULES)
    assert not young_share_failures(t)
    assert len(t["experts"]) == 3000
