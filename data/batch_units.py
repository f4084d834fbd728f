"""The units of a synthetic batch: invented enterprises, universities and institutes in and out
of Jiangsu with their groups (parents, subsidiaries, common control), departments, and the
lead and joint units of each proposal with the budget split between them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.synthetic import GenerateInputError, numbered_ids, pick_from
from models import places

CITIES: tuple[str, ...] = (
    "南京",
    "无锡",
    "徐州",
    "常州",
    "苏州",
    "南通",
    "连云港",
    "淮安",
    "盐城",
    "扬州",
    "镇江",
    "泰州",
    "宿迁",
)


_CITY_WEIGHTS = np.array([16, 11, 6, 8, 18, 8, 4, 4, 5, 5, 4, 4, 3], dtype=float)


_OTHER = (
    ("上海", "上海"),
    ("北京", "北京"),
    ("浙江", "杭州"),
    ("安徽", "合肥"),
    ("广东", "深圳"),
    ("湖北", "武汉"),
    ("陕西", "西安"),
    ("四川", "成都"),
    ("山东", "济南"),
    ("天津", "天津"),
)


_BRAND_A = "恒瑞华泰嘉润博宏汇中新天鼎安卓景诚明弘云锦志昊益金青远宇晟澄睿启源盛衡"


_BRAND_B = "远川岭和禾科通图智晟辰启盛澜越程达泽毅帆润合丰石晨航辉泓峰凯联舟"


_INDUSTRY = (
    "半导体",
    "微电子",
    "光电",
    "智能科技",
    "信息技术",
    "新材料",
    "生物医药",
    "医疗器械",
    "装备制造",
    "能源科技",
    "氢能科技",
    "储能技术",
    "通信技术",
    "电子科技",
    "精密机械",
    "动力科技",
    "数据科技",
    "化工材料",
    "航空科技",
    "海洋装备",
)


_FIELD = ("电子", "材料", "智能制造", "信息通信", "生物技术", "能源", "精密仪器", "化学工程")


_UNIT_TYPES_JS = ("enterprise", "university", "institute", "new_rnd", "lab", "hospital")


_UNIT_TYPE_P_JS = (0.52, 0.10, 0.12, 0.10, 0.06, 0.10)


_UNIT_TYPES_OUT = ("university", "institute", "enterprise", "hospital")


_UNIT_TYPE_P_OUT = (0.45, 0.30, 0.20, 0.05)


_TYPE_PREFIX = {
    "enterprise": "91",
    "university": "12",
    "institute": "12",
    "new_rnd": "52",
    "lab": "12",
    "hospital": "12",
    "other": "59",
}


_CODE_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))


def _unit_names(
    rng: np.random.Generator, types: np.ndarray, cities: np.ndarray, brands: np.ndarray
) -> np.ndarray:
    n = len(types)
    ind = np.array(_INDUSTRY, dtype=object)[rng.integers(0, len(_INDUSTRY), n)]
    fld = np.array(_FIELD, dtype=object)[rng.integers(0, len(_FIELD), n)]
    v = rng.integers(0, 3, n)
    out = np.empty(n, dtype=object)
    for i in range(n):
        t, c, b = types[i], cities[i], brands[i]
        if t == "enterprise":
            out[i] = (
                f"{c}{b}{ind[i]}有限公司",
                f"江苏{b}{ind[i]}股份有限公司",
                f"{c}{b}{ind[i]}科技有限公司",
            )[v[i]]
        elif t == "university":
            out[i] = (f"{c}{b}大学", f"{c}{b}理工学院", f"{c}{b}工程学院")[v[i]]
        elif t == "institute":
            out[i] = (f"江苏省{b}{fld[i]}研究所", f"{c}{b}{fld[i]}研究院", f"{c}{b}{fld[i]}研究所")[
                v[i]
            ]
        elif t == "new_rnd":
            out[i] = (
                f"{c}{b}{fld[i]}创新研究院",
                f"江苏{b}产业技术研究院有限公司",
                f"{c}{b}{fld[i]}技术研究院",
            )[v[i]]
        elif t == "lab":
            out[i] = f"{c}{b}{fld[i]}实验室"
        elif t == "hospital":
            out[i] = f"{c}{b}医院"
        else:
            out[i] = f"{c}{b}中心"
    return out


def _brands(rng: np.random.Generator, n: int) -> np.ndarray:
    a = np.array(list(_BRAND_A))[rng.integers(0, len(_BRAND_A), n)]
    b = np.array(list(_BRAND_B))[rng.integers(0, len(_BRAND_B), n)]
    return np.char.add(a, b).astype(object)


def make_units(
    rng: np.random.Generator, n_js: int, n_out: int, n_dedicated: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Units (without head_id), unit relations and the group id (N,) of each unit.

    Rows: n_js Jiangsu applicant-pool units, then n_out units in other provinces, then
    n_dedicated Jiangsu enterprises reserved for single proposals.
    """
    types_js = rng.choice(np.array(_UNIT_TYPES_JS, dtype=object), size=n_js, p=_UNIT_TYPE_P_JS)
    types_out = rng.choice(np.array(_UNIT_TYPES_OUT, dtype=object), size=n_out, p=_UNIT_TYPE_P_OUT)
    types = np.concatenate([types_js, types_out, np.full(n_dedicated, "enterprise", dtype=object)])
    n = len(types)
    city_js = rng.choice(
        np.array(CITIES, dtype=object),
        size=n_js + n_dedicated,
        p=_CITY_WEIGHTS / _CITY_WEIGHTS.sum(),
    )
    out_i = rng.integers(0, len(_OTHER), n_out)
    cities = np.concatenate(
        [city_js[:n_js], np.array([_OTHER[i][1] for i in out_i], dtype=object), city_js[n_js:]]
    )
    provinces = np.concatenate(
        [
            np.full(n_js, "江苏", dtype=object),
            np.array([_OTHER[i][0] for i in out_i], dtype=object),
            np.full(n_dedicated, "江苏", dtype=object),
        ]
    )
    brands = _brands(rng, n)
    group = np.arange(n)
    # enterprise groups among the Jiangsu pool
    ent = np.flatnonzero(types[:n_js] == "enterprise")
    ent = ent[rng.permutation(len(ent))]
    n_par = int(0.12 * len(ent))
    parents, rest = ent[:n_par], ent[n_par:]
    k = rng.integers(1, 4, n_par)
    k = np.minimum(k, np.maximum(0, len(rest) // max(n_par, 1)))
    ends = np.cumsum(k)
    ok = ends <= len(rest)
    parents, k, ends = parents[ok], k[ok], ends[ok]
    children = rest[: int(ends[-1]) if len(ends) else 0]
    owner = np.repeat(parents, k)
    group[children] = owner
    kinds = rng.choice(
        np.array(["parent_of", "controls", "shareholding"], dtype=object),
        size=len(children),
        p=[0.75, 0.1, 0.15],
    )
    share = np.where(
        kinds == "parent_of",
        np.round(rng.uniform(0.51, 1.0, len(children)), 2),
        np.where(
            kinds == "shareholding", np.round(rng.uniform(0.05, 0.45, len(children)), 2), np.nan
        ),
    )
    brands[children] = brands[owner]
    names = _unit_names(rng, types, cities, brands)
    names[parents] = np.array([f"江苏{brands[p]}集团有限公司" for p in parents], dtype=object)
    # make names unique
    for _ in range(20):
        dup = pd.Series(names).duplicated().to_numpy()
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        extra = np.array(list(_BRAND_B))[rng.integers(0, len(_BRAND_B), len(idx))]
        names[idx] = [
            f"{cities[i]}{brands[i]}{e}{names[i][len(cities[i]) + len(brands[i]) :]}"
            if names[i].startswith(f"{cities[i]}{brands[i]}")
            else f"{cities[i]}{e}{names[i]}"
            for i, e in zip(idx, extra, strict=True)
        ]
    unit_ids = numbered_ids("U", n, 5)
    pairs = list(zip(provinces, cities, strict=True))
    codes = {pc: _place_codes(*pc) for pc in set(pairs)}
    province_codes = np.array([codes[pc][0] for pc in pairs], dtype=object)
    city_codes = np.array([codes[pc][1] for pc in pairs], dtype=object)
    prov_code = np.array([c[:2] for c in province_codes], dtype=object)
    city_code = np.array([c[2:4] for c in city_codes], dtype=object)
    body = _CODE_CHARS[rng.integers(0, len(_CODE_CHARS), (n, 10))]
    body = np.array(["".join(r) for r in body], dtype=object)
    # the position index keeps codes unique
    serial = np.array([np.base_repr(i, 31).rjust(6, "0") for i in range(n)], dtype=object)
    credit = [
        f"{_TYPE_PREFIX[t]}{pc}{cc}00{s}{b[:4]}"
        for t, pc, cc, s, b in zip(types, prov_code, city_code, serial, body, strict=True)
    ]
    units = pd.DataFrame(
        {
            "unit_id": unit_ids,
            "name": names,
            "type": types,
            "city": cities,
            "province": provinces,
            "credit_code": credit,
            "province_code": province_codes,
            "city_code": city_codes,
        }
    )
    rel = pd.DataFrame(
        {
            "unit_id": unit_ids[owner],
            "related_unit_id": unit_ids[children],
            "kind": kinds,
            "share": share,
        }
    )
    return units, rel, group


def _place_codes(province: str, city: str) -> tuple[str, str]:
    """GB/T 2260 codes of a generated unit's province and city."""
    prov = places.province(province)
    town = None if prov is None else places.city(city, prov)
    if prov is None or town is None:
        raise GenerateInputError(f"internal: {province} / {city} is not a known place")
    return prov.code, town.code


def assign_departments(rng: np.random.Generator, units: pd.DataFrame) -> np.ndarray:
    """Recommending department of every unit (Jiangsu units; '' for others)."""
    t = units["type"].to_numpy()
    c = units["city"].to_numpy().astype(str)
    u = rng.random(len(units))
    city_bureau = np.char.add(c, "市科技局").astype(object)
    zone = np.char.add(c, "高新区管委会").astype(object)
    dep = city_bureau.copy()
    dep[(t == "university") & (u < 0.6)] = "省教育厅"
    dep[t == "hospital"] = "省卫生健康委"
    m = ((t == "enterprise") | (t == "new_rnd")) & (u < 0.2)
    dep[m] = zone[m]
    dep[units["province"].to_numpy() != "江苏"] = ""
    return dep


def _joint_units(
    rng: np.random.Generator,
    lead: np.ndarray,
    n_joint: np.ndarray,
    need_enterprise: np.ndarray,
    no_enterprise: np.ndarray,
    forced_second: np.ndarray,
    group: np.ndarray,
    pool_any: np.ndarray,
    pool_ent: np.ndarray,
    pool_non_ent: np.ndarray,
) -> np.ndarray:
    """(P, 5) unit indices, column 0 = lead, -1 = unused; groups distinct within a row except a
    forced second column (forced_second >= 0), which deliberately shares the lead's group."""
    p = len(lead)
    J = np.full((p, 5), -1, dtype=np.int64)
    J[:, 0] = lead
    todo = np.arange(p)
    for _ in range(200):
        if len(todo) == 0:
            break
        m = len(todo)
        draw = pick_from(rng, pool_any, m * 4).reshape(m, 4)
        ne = no_enterprise[todo]
        if ne.any():
            draw[ne] = pick_from(rng, pool_non_ent, int(ne.sum()) * 4).reshape(-1, 4)
        e = need_enterprise[todo]
        if e.any():
            draw[e, 0] = pick_from(rng, pool_ent, int(e.sum()))
        fs = forced_second[todo]
        draw[fs >= 0, 0] = fs[fs >= 0]
        cols = np.arange(4)[None, :] < (n_joint[todo] - 1)[:, None]
        draw = np.where(cols, draw, -1)
        J[todo, 1:] = draw
        G = np.where(J[todo] >= 0, group[np.maximum(J[todo], 0)], -1 - np.arange(5)[None, :])
        G = G.copy()
        forced = fs >= 0
        # the forced subsidiary is compared with nobody (its group equals the lead's on purpose)
        G[forced, 1] = -100
        S = np.sort(G, axis=1)
        bad = (S[:, 1:] == S[:, :-1]).any(axis=1)
        # the forced unit must still differ from the other joint units
        if forced.any():
            u = J[todo][forced]
            clash = (u[:, 2:] == u[:, [1]]).any(axis=1)
            bad[np.flatnonzero(forced)[clash]] = True
        todo = todo[bad]
    if len(todo):
        raise GenerateInputError(
            "could not draw distinct unrelated joint units; raise n_proposals or n_experts"
        )
    return J


def split_budget(rng: np.random.Generator, total: np.ndarray, n_joint: np.ndarray) -> np.ndarray:
    """(P, 5) joint-direction budgets in 万元 summing to total (10万 steps except the lead's)."""
    w = rng.uniform(0.6, 1.0, (len(total), 5))
    w[:, 0] += 0.6
    w = np.where(np.arange(5)[None, :] < n_joint[:, None], w, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    b = np.floor(w * total[:, None] / 10.0) * 10.0
    b[:, 0] = total - b[:, 1:].sum(axis=1)
    return b


def lead_units(
    rng: np.random.Generator,
    *,
    P: int,
    children_of: dict[int, list[int]],
    credit_rows: np.ndarray,
    group: np.ndarray,
    js: np.ndarray,
    n_js: int,
    n_out: int,
    p_prog: np.ndarray,
    parents: np.ndarray,
    partner: np.ndarray,
    prog_names: list[str],
    rule: np.ndarray,
    utype: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each proposal's lead unit: a unit group leads at most one proposal per programme, the
    planted proposals get the lead their rule needs (out of Jiangsu, penalised, the same PI's
    lead in another programme)."""
    lead_type = rng.choice(
        np.array(["enterprise", "university", "institute", "new_rnd"], dtype=object),
        size=P,
        p=[0.55, 0.2, 0.15, 0.10],
    )
    lead_type[rule == "enterprise_partner"] = "university"
    lead_type[(rule == "related_joint_units") | (rule == "credit")] = "enterprise"
    pools = {t: js[utype[:n_js] == t] for t in ("enterprise", "university", "institute", "new_rnd")}
    for t, pool in pools.items():
        if len(pool) == 0:
            lead_type[lead_type == t] = "enterprise"
    lead = np.empty(P, dtype=np.int64)
    for t, pool in pools.items():
        m = lead_type == t
        if m.any():
            lead[m] = pick_from(rng, pool, int(m.sum()))
    rj = np.flatnonzero(rule == "related_joint_units")
    if len(rj) and len(parents) == 0:
        raise GenerateInputError("internal: no enterprise group for related_joint_units")
    lead[rj] = pick_from(rng, parents, len(rj))
    lead[credit_rows] = n_js + n_out + np.arange(len(credit_rows))
    # a unit group leads at most one proposal per programme (no near-duplicates by design);
    # the second proposal of a one_per_pi pair shares the first one's lead in another programme
    pair_b = np.flatnonzero(partner >= 0)
    for _ in range(100):
        lead[pair_b] = lead[partner[pair_b]]
        key = pd.Series(group[lead] * (len(prog_names) + 1) + p_prog)
        dup = key.duplicated().to_numpy()
        if not dup.any():
            break
        redo = np.flatnonzero(dup)
        redo = np.where(partner[redo] >= 0, partner[redo], redo)  # move the pair's first
        redo = redo[rule[redo] != "credit"]
        for t, pool in pools.items():
            m = redo[(lead_type[redo] == t) & (rule[redo] != "related_joint_units")]
            lead[m] = pick_from(rng, pool, len(m))
        m = redo[rule[redo] == "related_joint_units"]
        lead[m] = pick_from(rng, parents, len(m))
    lead[pair_b] = lead[partner[pair_b]]
    forced_second = np.full(P, -1, dtype=np.int64)
    for q in rj.tolist():
        kids = children_of[int(lead[q])]
        forced_second[q] = kids[int(rng.integers(0, len(kids)))]
    lead_type = utype[lead]
    is_ent = lead_type == "enterprise"
    return is_ent, lead, forced_second


def joint_unit_matrix(
    rng: np.random.Generator,
    *,
    P: int,
    forced_second: np.ndarray,
    group: np.ndarray,
    is_ent: np.ndarray,
    lead: np.ndarray,
    pool_any: np.ndarray,
    pool_ent: np.ndarray,
    pool_non_ent: np.ndarray,
    rule: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The applying units per proposal, (P, 5) unit indices with the lead in column 0 and -1 past
    the proposal's 3–5 units; an enterprise among them unless the rule planted says otherwise."""
    n_joint = rng.choice(np.array([3, 4, 5]), size=P, p=[0.35, 0.4, 0.25])
    n_joint[forced_second >= 0] = np.maximum(n_joint[forced_second >= 0], 3)
    no_ent = rule == "enterprise_partner"
    need_ent = ~is_ent & ~no_ent
    J = _joint_units(
        rng,
        lead,
        n_joint,
        need_ent,
        no_ent,
        forced_second,
        group,
        pool_any,
        pool_ent,
        pool_non_ent,
    )
    # shuffle the non-lead columns so that the enterprise partner is not always at seq 2
    perm = np.argsort(rng.random((P, 4)) + np.where(J[:, 1:] < 0, 10.0, 0.0), axis=1)
    J[:, 1:] = np.take_along_axis(J[:, 1:], perm, axis=1)
    return J, n_joint
