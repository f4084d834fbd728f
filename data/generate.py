"""Seeded synthetic application batches for the 2024 call: demo data and benchmark input.

``generate_batch(guide, ...)`` returns every table kind of the batch format (units, people,
experts, proposals, joint directions, relations, ...) plus the ground truth (``truth_proposals``,
``truth_experts``) and the list of deliberately planted rule breaks (``planted``). All names are
invented from syllable lists. Money is in 万元, dates are ISO strings, timestamps
``YYYY-MM-DD HH:MM``. Every proposal not listed in ``planted`` passes every screening rule;
each planted proposal breaks exactly one.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from assign.conflicts import load_policy
from models import places
from models.vocab import FORMATS
from scoring.simulate import draw_truth

__all__ = [
    "COLUMNS",
    "PLANTABLE_RULES",
    "PROGRAMME_DISCIPLINES",
    "GenerateInputError",
    "generate_batch",
    "write_batch",
]

#: Exact columns of every table kind the generator writes, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {k: v for k, v in FORMATS.items() if k != "reviews"}

#: Rule ids (see the screening rules) this generator plants, one per planted proposal. The
#: funding limits are warnings (the grant is capped after review); the others reject.
PLANTABLE_RULES: tuple[str, ...] = (
    "direction_cap",
    "funding_share",
    "funding_max",
    "enterprise_partner",
    "related_joint_units",
    "pi_in_progress",
    "one_per_pi",
    "deadline",
    "credit",
    "pi_employed",
    "duration",
)

BATCH_ID = "2024"
BATCH_DATE = "2024-09-01"
DEADLINE = "2024-08-05 17:30"
FUNDING_MAX_WAN = 2000.0
DIRECTED = "定向委托"
OPEN_CALL = "揭榜挂帅"
COMPETITIVE = "竞争择优"

#: Programme → plausible discipline codes (first = most typical).
PROGRAMME_DISCIPLINES: dict[str, tuple[str, ...]] = {
    "第三代半导体": ("0809", "0805", "0702"),
    "6G技术": ("0810", "0809", "0812"),
    "人工智能": ("0812", "0835", "0811"),
    "战略新材料": ("0805", "0703", "0817"),
    "集成电路": ("1401", "0809", "0805"),
    "生物医药": ("1007", "0710", "1002", "0836"),
    "高端装备": ("0802", "0811", "0825", "0823"),
    "新能源": ("0807", "0808", "0805"),
    "氢能与储能": ("0817", "0807", "0808", "0805"),
}
_PROGRAMME_ORDER = tuple(PROGRAMME_DISCIPLINES)
_FALLBACK_DISCIPLINES = ("0812", "0802", "0805")
_FINANCE_DISCIPLINES = ("1202", "0202")

_ENGLISH: dict[str, tuple[str, ...]] = {
    "第三代半导体": ("GaN", "SiC MOSFET", "power electronics", "epitaxy", "wide-bandgap devices"),
    "6G技术": ("6G", "massive MIMO", "terahertz", "cell-free network", "satellite links"),
    "人工智能": ("large language model", "computer vision", "embodied AI", "deep learning"),
    "战略新材料": ("2D materials", "metasurface", "membrane separation", "photonic integration"),
    "集成电路": ("EDA", "DSP chip", "atomic layer deposition", "defect inspection"),
    "生物医药": ("antibody drug", "gene therapy", "brain-computer interface", "drug discovery"),
    "高端装备": ("drive-by-wire chassis", "electric propulsion", "deep-sea sensing", "avionics"),
    "新能源": ("tandem photovoltaics", "wind turbine", "MMC converter", "grid-forming inverter"),
    "氢能与储能": ("fuel cell", "PEM electrolysis", "solid-state battery", "energy storage"),
}
_ENGLISH_GENERIC = ("reliability", "system integration", "digital twin", "industrialization")
_GENERIC_KEYWORDS = (
    "关键技术",
    "工程化应用",
    "国产化替代",
    "可靠性评估",
    "系统集成",
    "示范应用",
    "产业化",
    "性能优化",
    "标准制定",
    "测试验证",
)

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
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史黎贺顾毛郝龚邵"
    "万钱严武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍鹏辉婷晨宇浩然轩欣怡涵"
    "诺思远博文嘉琪雨佳俊峰海波建国志晓东立新春燕红梅"
)
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
_RECUSAL_REASONS = (
    "存在直接竞争关系",
    "曾有学术争议",
    "同一技术路线竞争单位",
    "存在商业竞争关系",
    "曾有合作纠纷",
)
_PENALTY_REASONS = (
    "科研诚信失信行为（虚构材料）",
    "项目验收不通过且拒不整改",
    "违规使用财政科研经费",
    "被列入严重失信主体名单",
)
_ABSTRACT_OPEN = (
    "针对{d}领域的迫切需求，",
    "面向{d}的产业发展瓶颈，",
    "为解决{d}中长期存在的“卡脖子”问题，",
    "立足我省{d}产业基础，",
    "围绕{d}的重大战略需求，",
    "聚焦{d}方向的核心技术短板，",
)
_ABSTRACT_METHOD = (
    "采用理论建模、仿真优化与样机验证相结合的技术路线",
    "通过产学研协同和上下游联合攻关",
    "依托牵头单位已有的中试平台和工程化经验",
    "构建覆盖设计、制造、测试全流程的研发体系",
    "建立多尺度表征与失效分析方法",
    "结合数据驱动方法与机理模型",
    "形成从核心部件到整机系统的自主可控方案",
    "开展小批量试制与用户现场验证",
    "引入数字化设计与自动化测试手段",
    "以典型应用场景为牵引开展迭代优化",
    "通过开放共享大型仪器降低研发成本",
    "建立覆盖全生命周期的质量与可靠性保障体系",
)
_ABSTRACT_CLOSE = (
    "项目成果将显著提升我省相关产业链的自主可控水平。",
    "成果可在省内龙头企业推广应用，带动上下游协同发展。",
    "项目实施将培养一支高水平的青年科技人才队伍。",
    "预期成果达到国内领先水平，部分指标达到国际先进。",
    "项目将形成具有自主知识产权的标志性战略产品。",
    "成果具备良好的产业化前景和显著的经济社会效益。",
)
_TITLE_TEMPLATES = (
    "{a}关键技术研发及应用",
    "{a}研究与工程化示范",
    "{a}与{b}协同攻关",
    "高可靠{a}研制及产业化",
    "面向{b}的{a}研发",
    "{a}核心技术攻关与验证",
)
_PAD_PHRASES = (
    "多物理场耦合仿真",
    "关键部件国产化",
    "在线监测与故障诊断",
    "低成本制造工艺",
    "高可靠封装技术",
    "全生命周期管理",
    "智能控制算法",
    "标准化测试方法",
    "系统级能效优化",
    "轻量化结构设计",
    "高通量实验验证",
    "数字孪生建模",
    "多源数据融合",
    "环境适应性验证",
    "核心软件工具链",
    "批量一致性控制",
    "失效机理分析",
    "工艺窗口优化",
    "安全防护机制",
    "应用场景适配",
)
_TASK_SUFFIX = ("研究", "研发", "验证与示范", "工程化开发", "集成与测试")
_RULE_DETAIL_PREFIX = "planted: "

_YOUNG_FROM = np.datetime64("1984-01-01")
_EPOCH = np.datetime64("1970-01-01")


class GenerateInputError(ValueError):
    """Bad input to the batch generator."""


# --------------------------------------------------------------------------------------------
# small helpers


def _day(s: str) -> int:
    return int((np.datetime64(s) - _EPOCH).astype(np.int64))


def _dates(rng: np.random.Generator, lo: str, hi: str, n: int) -> np.ndarray:
    """n ISO date strings uniform in [lo, hi]."""
    d = rng.integers(_day(lo), _day(hi) + 1, size=n)
    return (d.astype("datetime64[D]")).astype(str).astype(object)


def _pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """n uniform draws (with replacement) from a 1-d pool."""
    if len(pool) == 0:
        raise GenerateInputError("internal: empty pool; raise n_proposals or n_experts")
    return pool[rng.integers(0, len(pool), size=n)]


def _blank_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array of values with None where mask is true."""
    out = np.asarray(values, dtype=object).copy()
    out[mask] = None
    return out


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    """n invented person names: a common surname + one or two given-name characters."""
    sur = np.array(list(_SURNAMES))[rng.integers(0, len(_SURNAMES), n)]
    g = np.array(list(_GIVEN))
    g1 = g[rng.integers(0, len(g), n)]
    g2 = np.where(rng.random(n) < 0.7, g[rng.integers(0, len(g), n)], "")
    return np.char.add(np.char.add(sur, g1), g2).astype(object)


def _programme_of(programme: object, code: str) -> str:
    text = "" if programme is None or pd.isna(programme) else str(programme)
    for name in _PROGRAMME_ORDER:
        if name in text:
            return name
    if code[:1].isdigit() and 1 <= int(code[0]) <= len(_PROGRAMME_ORDER):
        return _PROGRAMME_ORDER[int(code[0]) - 1]
    return text or "其他"


_SPLIT_RE = re.compile(r"[，。；、：:;,（）()【】“”\s]+")
_LEAD_WORDS = (
    "具体包括",
    "包括",
    "开展",
    "针对",
    "研究",
    "实现",
    "突破",
    "研制",
    "开发",
    "面向",
    "聚焦",
    "围绕",
    "建立",
    "构建",
    "形成",
    "完成",
    "重点",
    "并",
    "等",
)


def _phrases(*texts: object) -> list[str]:
    """Distinct phrases (4–24 characters) cut at punctuation from the given texts."""
    out: list[str] = []
    for text in texts:
        if text is None or (isinstance(text, float) and math.isnan(text)):
            continue
        for chunk in _SPLIT_RE.split(str(text)):
            c = chunk.strip()
            changed = True
            while changed:
                changed = False
                for w in _LEAD_WORDS:
                    if c.startswith(w) and len(c) > len(w) + 3:
                        c = c[len(w) :]
                        changed = True
            c = c.rstrip("等及和与的")
            if c in _LEAD_WORDS or c.endswith("包括") or c.endswith("如下"):
                continue
            if 4 <= len(c) <= 20 and not c.isdigit() and c not in out:
                out.append(c)
    return out


# --------------------------------------------------------------------------------------------
# directions and proposal skeleton


def _directions(guide: pd.DataFrame) -> pd.DataFrame:
    """Usable directions: code, programme (canonical), title, cap (NaN = none), max_years, mode,
    phrases (list[str]), short (list[str] of ≤ 12 chars)."""
    missing = [
        c for c in ("code", "programme", "title", "cap_wan", "max_years", "mode") if c not in guide
    ]
    if missing:
        raise GenerateInputError(
            f"guide is missing column(s) {', '.join(missing)}; pass the guide catalogue frame "
            "(data.build_guide.load_guide())"
        )
    g = guide.copy()
    title = g["title"].astype(object).where(g["title"].notna(), "")
    keep = title.map(lambda t: str(t).strip() != "")
    g = g.loc[keep.to_numpy()].reset_index(drop=True)
    if g.empty:
        raise GenerateInputError("the guide has no direction with a title; pass a non-empty guide")
    codes = g["code"].astype(str).str.strip().tolist()
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise GenerateInputError(f"duplicate direction codes in the guide: {', '.join(dup)}")
    cap = pd.to_numeric(g["cap_wan"], errors="coerce").astype(float).to_numpy()
    maxy = pd.to_numeric(g["max_years"], errors="coerce").astype(float).to_numpy()
    maxy = np.where(np.isnan(maxy), 5.0, maxy).astype(int)
    content = g["research_content"] if "research_content" in g else pd.Series([None] * len(g))
    rows = []
    for i, code in enumerate(codes):
        prog = _programme_of(g["programme"].iloc[i], code)
        t = str(g["title"].iloc[i]).strip()
        ph = _phrases(content.iloc[i], t)
        short = [p for p in ph if len(p) <= 12] or [p[:12] for p in ph]
        start = sum(map(ord, code)) % len(_PAD_PHRASES)
        pad = [x for x in _PAD_PHRASES[start:] + _PAD_PHRASES[:start] if x not in ph]
        if len(short) < 4:
            short += pad[: 4 - len(short)]
        if len(ph) < 16:
            ph += pad[: 16 - len(ph)]
        mode = g["mode"].iloc[i]
        rows.append(
            {
                "code": code,
                "programme": prog,
                "title": t,
                "cap": cap[i],
                "max_years": int(maxy[i]),
                "mode": "" if mode is None or pd.isna(mode) else str(mode).strip(),
                "phrases": ph,
                "short": short,
            }
        )
    return pd.DataFrame(rows)


def _counts(
    rng: np.random.Generator,
    n_dir: int,
    per_direction: tuple[int, int],
    n_proposals: int | None,
) -> np.ndarray:
    if n_proposals is not None:
        base = n_proposals // n_dir
        counts = np.full(n_dir, base, dtype=np.int64)
        extra = rng.choice(n_dir, size=n_proposals - base * n_dir, replace=False)
        counts[extra] += 1
        return counts
    lo, hi = per_direction
    return rng.integers(lo, hi + 1, size=n_dir)


def _plan(
    rng: np.random.Generator, dirs: pd.DataFrame, dir_idx: np.ndarray, planted_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Choose the planted proposals. Returns rule (P,) object ('' = clean) and partner (P,) int:
    for the second proposal of a one_per_pi pair, the index of the first (else -1)."""
    n = len(dir_idx)
    rule = np.full(n, "", dtype=object)
    partner = np.full(n, -1, dtype=np.int64)
    budget = int(round(planted_share * n))
    if budget == 0:
        return rule, partner
    cap = dirs["cap"].to_numpy()[dir_idx]
    mode = dirs["mode"].to_numpy()[dir_idx]
    prog = dirs["programme"].to_numpy()[dir_idx]
    # the PI rules exempt 定向委托; plant them only where the mode is known and not exempt
    known_mode = (mode == OPEN_CALL) | (mode == COMPETITIVE)
    eligible = {
        "direction_cap": ~np.isnan(cap) & (cap < FUNDING_MAX_WAN - 20),
        "funding_max": np.isnan(cap) | (cap > FUNDING_MAX_WAN + 20),
        "pi_in_progress": known_mode,
        "one_per_pi": known_mode,
        # one year over a direction limit of 3 or 4 years stays within the usual 3-5 years
        "duration": dirs["max_years"].to_numpy()[dir_idx] <= 4,
    }
    free = np.ones(n, dtype=bool)
    order = list(PLANTABLE_RULES)
    rng.shuffle(order)
    used = 0
    active = True
    while used < budget and active:
        active = False
        for r in order:
            if used >= budget:
                break
            ok = free & eligible.get(r, np.ones(n, dtype=bool))
            cand = np.flatnonzero(ok)
            if r == "one_per_pi":
                if budget - used < 2 or len(cand) < 2:
                    continue
                a = int(rng.choice(cand))
                other = cand[(prog[cand] != prog[a])]
                if len(other) == 0:
                    other = cand[dir_idx[cand] != dir_idx[a]]
                if len(other) == 0:
                    continue
                b = int(rng.choice(other))
                rule[a] = rule[b] = r
                partner[b] = a
                free[a] = free[b] = False
                used += 2
                active = True
                continue
            if len(cand) == 0:
                continue
            p = int(rng.choice(cand))
            rule[p] = r
            free[p] = False
            used += 1
            active = True
    return rule, partner


# --------------------------------------------------------------------------------------------
# units


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


def _make_units(
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
    unit_ids = _ids("U", n, 5)
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


def _departments(rng: np.random.Generator, units: pd.DataFrame) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# joint directions


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
        draw = _pick(rng, pool_any, m * 4).reshape(m, 4)
        ne = no_enterprise[todo]
        if ne.any():
            draw[ne] = _pick(rng, pool_non_ent, int(ne.sum()) * 4).reshape(-1, 4)
        e = need_enterprise[todo]
        if e.any():
            draw[e, 0] = _pick(rng, pool_ent, int(e.sum()))
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


def _split_budget(rng: np.random.Generator, total: np.ndarray, n_joint: np.ndarray) -> np.ndarray:
    """(P, 5) joint-direction budgets in 万元 summing to total (10万 steps except the lead's)."""
    w = rng.uniform(0.6, 1.0, (len(total), 5))
    w[:, 0] += 0.6
    w = np.where(np.arange(5)[None, :] < n_joint[:, None], w, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    b = np.floor(w * total[:, None] / 10.0) * 10.0
    b[:, 0] = total - b[:, 1:].sum(axis=1)
    return b


_ABSTRACT_FOCUS = (
    "本项目以{a}为主线，重点解决{b}中的关键科学问题。",
    "项目拟围绕{a}和{b}两条技术路线并行推进。",
    "项目聚焦{a}，兼顾{b}的工程实现。",
    "项目从{a}入手，系统攻克{b}难题。",
    "研究内容涵盖{a}、{b}等方面。",
    "针对{b}，项目提出以{a}为核心的整体解决方案。",
)
_ABSTRACT_BREAK = (
    "拟突破{c}等关键技术，研制{n}套{prod}。",
    "重点攻关{c}，完成{n}套{prod}的设计与试制。",
    "通过{c}的技术创新，形成{n}套{prod}。",
    "在{c}方面取得突破，并交付{n}套{prod}。",
)
_PRODUCTS = (
    "原理样机",
    "工程样机",
    "核心模组",
    "验证平台",
    "中试线",
    "软件系统",
    "测试装置",
    "关键部件",
    "示范系统",
    "评测工具",
)
_ABSTRACT_TARGET = (
    "预期申请发明专利{x}项、制定标准{y}项。",
    "计划获得授权发明专利{x}项，牵头或参与制定行业标准{y}项。",
    "将形成知识产权{x}项、技术规范{y}项。",
    "预计发表高水平论文{x}篇，形成团体标准{y}项。",
)
_ABSTRACT_SCENE = (
    "成果将在{s1}和{s2}等场景开展应用验证",
    "已与用户单位约定在{s1}、{s2}开展示范",
    "项目将在{s1}率先落地，并逐步推广至{s2}",
    "面向{s1}与{s2}形成可复制的应用方案",
)
_SCENES = (
    "省内重点园区",
    "龙头制造企业",
    "新能源汽车产线",
    "数据中心",
    "海上风电场",
    "三甲医院",
    "轨道交通",
    "智能电网",
    "工业互联网平台",
    "半导体代工厂",
    "通信运营商网络",
    "港口码头",
    "化工园区",
    "储能电站",
    "航空制造基地",
    "城市安全监测",
    "消费电子产线",
    "临床研究中心",
    "卫星地面站",
    "智慧矿山",
)
_ABSTRACT_VALUE = (
    "，带动新增产值约{v}亿元。",
    "，预计三年内实现销售收入{v}亿元。",
    "，可带动上下游新增投资约{v}亿元。",
    "，预期降低用户综合成本{v}%以上。",
)
_ABSTRACT_TEAM = (
    "项目由{lead}牵头，联合{joints}共同实施。",
    "{lead}作为牵头单位，与{joints}组成联合攻关团队。",
    "牵头单位{lead}联合{joints}，分工承担各联合攻关方向。",
)


def _abstract(
    r: list[int], a: str, b: str, c: str, e: str, d_title: str, lead: str, joints: list[str]
) -> str:
    """A varied abstract: template slots chosen and ordered by the random ints r (≥ 24)."""

    def pick(pool: tuple[str, ...], i: int) -> str:
        return pool[r[i] % len(pool)]

    m1 = pick(_ABSTRACT_METHOD, 4)
    m2 = _ABSTRACT_METHOD[(r[4] + 1 + r[16] % (len(_ABSTRACT_METHOD) - 1)) % len(_ABSTRACT_METHOD)]
    s1 = pick(_SCENES, 17)
    s2 = _SCENES[(r[17] + 1 + r[18] % (len(_SCENES) - 1)) % len(_SCENES)]
    middle = [
        f"{m1}，{m2}。",
        pick(_ABSTRACT_BREAK, 6).format(c=c, n=1 + r[7] % 4, prod=pick(_PRODUCTS, 19)),
        pick(_ABSTRACT_TARGET, 8).format(x=3 + r[9] % 18, y=1 + r[10] % 5),
        pick(_ABSTRACT_SCENE, 11).format(s1=s1, s2=s2)
        + pick(_ABSTRACT_VALUE, 20).format(v=2 + r[21] % 60),
        f"其中{e}相关工作由联合单位承担。",
    ]
    order = sorted(range(len(middle)), key=lambda i: (r[22] >> (3 * i)) & 7)
    return (
        pick(_ABSTRACT_OPEN, 5).format(d=d_title)
        + pick(_ABSTRACT_FOCUS, 13).format(a=a, b=b)
        + "".join(middle[i] for i in order)
        + pick(_ABSTRACT_TEAM, 14).format(lead=lead, joints="、".join(joints))
        + pick(_ABSTRACT_CLOSE, 12)
    )


_PUB_TITLES = (
    "{a}的关键问题研究",
    "基于{b}的{a}方法",
    "{a}性能分析与优化",
    "一种{a}装置及其制备方法",
    "{a}在{b}中的应用",
    "面向{b}的{a}设计与实现",
)
_PUB_ABSTRACTS = (
    "针对{a}中的难点，提出了一种新方法，实验验证了其在{b}场景下的有效性。",
    "研究了{a}的机理，建立了模型，并在{b}中开展了验证。",
    "本文围绕{a}与{b}，给出了设计方案和测试结果。",
    "提出{a}的优化策略，相关指标较现有方法明显提升。",
)
_PUB_KINDS = np.array(["paper", "patent", "project"], dtype=object)
_PUB_YEARS = (2010, 2024)


def _publications(
    expert_ids: np.ndarray, ex_dirs: list[tuple[int, int]], dirs: pd.DataFrame, *, seed: int
) -> pd.DataFrame:
    """3–15 representative works per expert (about 5 on average), drawn from the phrases of
    the expert's two directions, on a random stream of their own (the other tables do not
    change with them). Years lean recent; kinds: 60 % papers, 25 % patents, 15 % projects."""
    rng = np.random.default_rng([seed, 12])
    n_e = len(expert_ids)
    n_pub = 3 + np.minimum(rng.poisson(2.0, n_e), 12)
    total = int(n_pub.sum())
    owner = np.repeat(np.arange(n_e), n_pub)
    r = rng.integers(0, 1 << 30, (total, 6)).tolist()
    age = np.minimum(rng.geometric(0.25, total) - 1, _PUB_YEARS[1] - _PUB_YEARS[0])
    kind = _PUB_KINDS[rng.choice(3, size=total, p=[0.6, 0.25, 0.15])]
    phrases, shorts = dirs["phrases"].tolist(), dirs["short"].tolist()
    titles, abstracts, keywords = [], [], []
    seen: set[tuple[int, str]] = set()
    for j, i in enumerate(owner.tolist()):
        d = ex_dirs[i][r[j][0] % 2]
        ph, sh = phrases[d], shorts[d]
        for step in range(len(ph) * len(_PUB_TITLES)):  # an expert's titles are distinct
            a, b = ph[(r[j][1] + step) % len(ph)], sh[r[j][2] % len(sh)]
            title = _PUB_TITLES[(r[j][3] + step) % len(_PUB_TITLES)].format(a=a, b=b)
            if (i, title) not in seen:
                break
        seen.add((i, title))
        titles.append(title)
        abstracts.append(_PUB_ABSTRACTS[r[j][4] % len(_PUB_ABSTRACTS)].format(a=a, b=b))
        keywords.append(";".join(dict.fromkeys(sh[(r[j][5] + 2 * k) % len(sh)] for k in range(3))))
    return pd.DataFrame(
        {
            "expert_id": expert_ids[owner],
            "title": titles,
            "abstract": abstracts,
            "keywords": keywords,
            "year": (_PUB_YEARS[1] - age).astype(np.int64),
            "kind": kind,
        }
    )


# --------------------------------------------------------------------------------------------
# main entry


def generate_batch(
    guide: pd.DataFrame,
    *,
    n_experts: int = 3000,
    proposals_per_direction: tuple[int, int] = (8, 20),
    n_proposals: int | None = None,
    planted_share: float = 0.12,
    n_relations: int | None = None,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """A synthetic 2024 batch over the guide's directions (rows with an empty title skipped).

    n_experts: rows of ``experts``; proposals_per_direction: (lo, hi) inclusive range per
    direction, overridden by n_proposals (spread evenly over the directions);
    planted_share: share of proposals that each break exactly one rule of PLANTABLE_RULES;
    n_relations: rows of ``person_relations`` (default 3 per expert + 3 per proposal).
    Returns {kind: DataFrame} with exactly the columns of COLUMNS for every kind except
    ``reviews``. Money in 万元. Same arguments, same tables.
    """
    _check_args(n_experts, proposals_per_direction, n_proposals, planted_share, n_relations)
    rng = np.random.default_rng(seed)
    dirs = _directions(guide)
    n_dir = len(dirs)
    counts = _counts(rng, n_dir, proposals_per_direction, n_proposals)
    dir_idx = np.repeat(np.arange(n_dir), counts)
    P = len(dir_idx)
    if P == 0:
        raise GenerateInputError("no proposals to generate; raise n_proposals or the range")
    seq_in_dir = np.concatenate([np.arange(1, c + 1) for c in counts]) if P else np.array([])
    codes = dirs["code"].to_numpy()
    width = max(2, len(str(int(counts.max()))))
    proposal_ids = np.array(
        [f"P-{codes[d]}-{s:0{width}d}" for d, s in zip(dir_idx, seq_in_dir, strict=True)],
        dtype=object,
    )
    rule, partner = _plan(rng, dirs, dir_idx, planted_share)
    n_rel = 3 * n_experts + 3 * P if n_relations is None else n_relations

    prog_names = sorted(set(dirs["programme"]))
    prog_of_dir = dirs["programme"].to_numpy()
    prog_idx_of_dir = np.array([prog_names.index(x) for x in prog_of_dir])
    p_prog = prog_idx_of_dir[dir_idx]

    # ---- units (enough that every programme's leads can be distinct unit groups)
    n_js = max(120, int(1.4 * P), 4 * int(np.bincount(p_prog).max()))
    n_out = max(20, int(0.4 * n_experts / 6))
    credit_rows = np.flatnonzero(rule == "credit")
    units, unit_rel, group = _make_units(rng, n_js, n_out, len(credit_rows))
    U = len(units)
    utype = units["type"].to_numpy()
    js = np.arange(n_js)
    pool_any = js
    pool_ent = js[utype[:n_js] == "enterprise"]
    pool_non_ent = js[utype[:n_js] != "enterprise"]
    # units held by a parent in a way that makes them related (a minority stake does not)
    relatedness = load_policy().relatedness
    children_of: dict[int, list[int]] = {}
    for a, b, kind, share in zip(
        unit_rel["unit_id"].map(lambda s: int(s[1:]) - 1),
        unit_rel["related_unit_id"].map(lambda s: int(s[1:]) - 1),
        unit_rel["kind"],
        unit_rel["share"],
        strict=True,
    ):
        if relatedness.counts(kind, share):
            children_of.setdefault(int(a), []).append(int(b))
    parents = np.array(sorted(children_of), dtype=np.int64)
    dept_of_unit = _departments(rng, units)

    # ---- lead units
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
            lead[m] = _pick(rng, pool, int(m.sum()))
    rj = np.flatnonzero(rule == "related_joint_units")
    if len(rj) and len(parents) == 0:
        raise GenerateInputError("internal: no enterprise group for related_joint_units")
    lead[rj] = _pick(rng, parents, len(rj))
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
            lead[m] = _pick(rng, pool, len(m))
        m = redo[rule[redo] == "related_joint_units"]
        lead[m] = _pick(rng, parents, len(m))
    lead[pair_b] = lead[partner[pair_b]]
    forced_second = np.full(P, -1, dtype=np.int64)
    for q in rj.tolist():
        kids = children_of[int(lead[q])]
        forced_second[q] = kids[int(rng.integers(0, len(kids)))]
    lead_type = utype[lead]
    is_ent = lead_type == "enterprise"

    # ---- joint units
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

    # ---- money, duration, dates
    cap = dirs["cap"].to_numpy()[dir_idx]
    maxy = dirs["max_years"].to_numpy()[dir_idx]
    dmode = dirs["mode"].to_numpy()[dir_idx]
    share = np.where(is_ent, 0.3, 0.5)
    maxreq = np.where(np.isnan(cap), FUNDING_MAX_WAN, np.minimum(cap, FUNDING_MAX_WAN))
    req = np.maximum(100.0, np.floor(maxreq * rng.uniform(0.45, 1.0, P) / 10.0) * 10.0)
    at_cap = rng.random(P) < 0.06
    req[at_cap] = maxreq[at_cap]
    m = rule == "direction_cap"
    req[m] = np.minimum(
        FUNDING_MAX_WAN,
        np.maximum(cap[m] + 10.0, np.floor(cap[m] * rng.uniform(1.08, 1.35, m.sum()) / 10) * 10),
    )
    m = rule == "funding_max"
    hi = np.where(np.isnan(cap[m]), 2800.0, cap[m])
    req[m] = np.maximum(
        FUNDING_MAX_WAN + 10.0, np.floor(rng.uniform(2050.0, 2800.0, m.sum()) / 10) * 10
    )
    req[m] = np.minimum(req[m], hi)
    total = np.ceil(req / (share * rng.uniform(0.6, 0.95, P)) / 10.0) * 10.0
    m = rule == "funding_share"
    total[m] = np.floor(req[m] / (share[m] * rng.uniform(1.15, 1.5, m.sum())) / 10.0) * 10.0
    own = total - req + np.where(rng.random(P) < 0.2, 10.0 * rng.integers(1, 20, P), 0.0)
    lo_y = np.minimum(3, maxy)
    hi_y = np.maximum(lo_y, np.minimum(5, maxy))
    duration = rng.integers(lo_y, hi_y + 1)
    m = rule == "duration"
    duration[m] = maxy[m] + 1
    dl = np.datetime64("2024-08-05T17:30")
    back = np.minimum(rng.exponential(3 * 24 * 60, P), 28 * 24 * 60).astype(np.int64) + 1
    sub = dl - back.astype("timedelta64[m]")
    near = rng.random(P) < 0.03
    sub[near] = dl - np.timedelta64(1, "m")
    m = rule == "deadline"
    sub[m] = dl + rng.integers(1, 18 * 60, m.sum()).astype("timedelta64[m]")
    submitted = np.array([str(s).replace("T", " ")[:16] for s in sub], dtype=object)

    # ---- team persons
    # layout per proposal: PI, then n_joint-1 key members (joint leaders), then members
    n_members = rng.integers(0, 4, P)
    reuse_pi = partner >= 0
    n_new = np.where(reuse_pi, 0, 1) + (n_joint - 1) + n_members
    t_prop = np.repeat(np.arange(P), n_new)
    pos = np.arange(len(t_prop)) - np.repeat(np.cumsum(n_new) - n_new, n_new)
    off = np.where(reuse_pi, 1, 0)[t_prop]
    slot = pos + off  # 0 = PI, 1..n_joint-1 keys, beyond: members
    is_pi = slot == 0
    is_key = (slot >= 1) & (slot < n_joint[t_prop])
    t_role = np.where(is_pi, "pi", np.where(is_key, "key", "member")).astype(object)
    t_unit = np.where(
        is_pi,
        lead[t_prop],
        np.where(
            is_key,
            J[t_prop, np.minimum(slot, 4)],
            J[t_prop, 0],
        ),
    )
    mem = ~is_pi & ~is_key
    if mem.any():
        mp = t_prop[mem]
        c = rng.integers(0, n_joint[mp])
        t_unit[mem] = J[mp, c]
    pe = rule == "pi_employed"
    pe_rows = np.flatnonzero(is_pi & pe[t_prop])
    for r in pe_rows:
        p = int(t_prop[r])
        while True:
            u = int(_pick(rng, pool_any, 1)[0])
            if u not in J[p]:
                break
        t_unit[r] = u
    n_team_new = len(t_prop)

    # ---- pure experts
    demand = np.bincount(p_prog, minlength=len(prog_names)).astype(float) + 1.0
    n_team_exp = min(max(1, n_experts // 50), int((is_pi | is_key).sum()))
    n_pure = n_experts - n_team_exp
    e_kind = rng.choice(
        np.array(["academic", "industry", "finance"], dtype=object),
        size=n_pure,
        p=[0.65, 0.25, 0.10],
    )
    in_js = rng.random(n_pure) < 0.6
    out_units = np.arange(n_js, n_js + n_out)
    e_unit = np.empty(n_pure, dtype=np.int64)
    acad = np.isin(utype, ["university", "institute", "new_rnd", "lab", "hospital"])
    for inside, pool_all in ((True, js), (False, out_units)):
        for kind in ("academic", "industry", "finance"):
            m = (in_js == inside) & (e_kind == kind)
            if kind == "academic":
                pool = pool_all[acad[pool_all]]
            elif kind == "industry":
                pool = pool_all[utype[pool_all] == "enterprise"]
            else:
                pool = pool_all[
                    (utype[pool_all] == "enterprise") | (utype[pool_all] == "university")
                ]
            if len(pool) == 0:
                pool = pool_all
            e_unit[m] = _pick(rng, pool, int(m.sum()))
    e_prog = rng.choice(len(prog_names), size=n_pure, p=demand / demand.sum())

    # ---- heads (new persons, or an expert of the unit)
    has_head = rng.random(U) < 0.85
    head_pid = np.full(U, -1, dtype=np.int64)  # person index, filled below
    order = rng.permutation(n_pure)
    first_exp = pd.Series(order, index=e_unit[order]).groupby(level=0).first()
    use_exp = np.zeros(U, dtype=bool)
    cand_units = first_exp.index.to_numpy()
    use_exp[cand_units] = rng.random(len(cand_units)) < 0.2
    use_exp &= has_head
    new_head_units = np.flatnonzero(has_head & ~use_exp)

    # ---- people: [pure experts][new heads][team persons]
    n_heads = len(new_head_units)
    NP = n_pure + n_heads + n_team_new
    person_ids = _ids("R", NP, 7)
    off_h, off_t = n_pure, n_pure + n_heads
    p_unit = np.concatenate([e_unit, new_head_units, t_unit])
    p_name = _names(rng, NP)
    bd = np.empty(NP, dtype=np.int64)
    bd[:n_pure] = rng.integers(_day("1956-01-01"), _day("1990-12-31") + 1, n_pure)
    n_old = max(2, n_pure // 100)
    old_idx = rng.choice(n_pure, size=min(n_old, n_pure), replace=False)
    bd[old_idx] = rng.integers(_day("1946-01-01"), _day("1953-12-31") + 1, len(old_idx))
    bd[off_h:off_t] = rng.integers(_day("1960-01-01"), _day("1978-12-31") + 1, n_heads)
    # team: young or not decided per proposal below
    old_day = rng.integers(_day("1962-01-01"), _day("1983-12-31") + 1, n_team_new)
    young_day = rng.integers(_day("1984-01-01"), _day("1996-12-31") + 1, n_team_new)
    young_prop = rng.random(P) < 0.6
    pi_young = rng.random(P) < 0.5
    tp_young = np.where(
        is_pi,
        young_prop[t_prop] & pi_young[t_prop],
        np.where(
            is_key,
            young_prop[t_prop]
            & ((~pi_young[t_prop] & (slot == 1)) | (rng.random(n_team_new) < 0.3)),
            rng.random(n_team_new) < 0.5,
        ),
    )
    bd[off_t:] = np.where(tp_young, young_day, old_day)
    title = np.empty(NP, dtype=object)
    titles = np.array(["senior", "associate", "intermediate", "other"], dtype=object)
    title[:n_pure] = rng.choice(titles, size=n_pure, p=[0.62, 0.33, 0.05, 0.0])
    title[off_h:off_t] = "senior"
    title[off_t:] = np.where(
        is_pi,
        rng.choice(titles, size=n_team_new, p=[0.6, 0.35, 0.05, 0.0]),
        np.where(
            is_key,
            rng.choice(titles, size=n_team_new, p=[0.35, 0.45, 0.2, 0.0]),
            rng.choice(titles, size=n_team_new, p=[0.1, 0.3, 0.45, 0.15]),
        ),
    )

    # PI person index of each proposal
    pi_person = np.full(P, -1, dtype=np.int64)
    pi_rows = np.flatnonzero(is_pi)
    pi_person[t_prop[pi_rows]] = off_t + pi_rows
    pi_person[reuse_pi] = pi_person[partner[reuse_pi]]
    # team table rows (person index, proposal, role)
    tm_person = np.concatenate([off_t + np.arange(n_team_new), pi_person[reuse_pi]])
    tm_prop = np.concatenate([t_prop, np.flatnonzero(reuse_pi)])
    tm_role = np.concatenate([t_role, np.full(int(reuse_pi.sum()), "pi", dtype=object)])
    tm_slot = np.concatenate([slot, np.zeros(int(reuse_pi.sum()), dtype=np.int64)])
    o = np.lexsort((tm_slot, tm_prop))
    tm_person, tm_prop, tm_role, tm_slot = tm_person[o], tm_prop[o], tm_role[o], tm_slot[o]

    # young share per department: top up by making a key member young
    dept = dept_of_unit[lead]
    clean = rule == ""
    key_rows = np.flatnonzero(tm_role == "key")
    first_key = np.full(P, -1, dtype=np.int64)
    first_key[tm_prop[key_rows][::-1]] = tm_person[key_rows][::-1]
    for subset in (clean, np.ones(P, dtype=bool)):
        is_young = np.zeros(P, dtype=bool)
        yrow = bd[tm_person] >= _day("1984-01-01")
        yrow &= tm_role != "member"
        np.logical_or.at(is_young, tm_prop, yrow)
        for d in np.unique(dept[subset]):
            members = np.flatnonzero(subset & (dept == d))
            need = math.ceil(0.45 * len(members)) - int(is_young[members].sum())
            if need <= 0:
                continue
            cand = members[~is_young[members]]
            cand = cand[rng.permutation(len(cand))][:need]
            bd[first_key[cand]] = young_day[first_key[cand] - off_t]
    # joint-direction leaders: PI for the lead's direction, key member k for column k
    leader = np.full((P, 5), -1, dtype=np.int64)
    leader[:, 0] = pi_person
    kr = tm_role == "key"
    leader[tm_prop[kr], tm_slot[kr]] = tm_person[kr]

    # ---- team experts (some PIs/key members are also in the expert pool)
    tk = np.flatnonzero(is_pi | is_key)
    team_exp = off_t + np.sort(rng.choice(tk, size=n_team_exp, replace=False))
    expert_person = np.concatenate([np.arange(n_pure), team_exp])
    E = len(expert_person)
    ex_kind = np.concatenate(
        [
            e_kind,
            rng.choice(
                np.array(["academic", "industry"], dtype=object), size=n_team_exp, p=[0.7, 0.3]
            ),
        ]
    )
    ex_prog = np.concatenate([e_prog, p_prog[t_prop[team_exp - off_t]]])
    ex_unit = p_unit[expert_person]
    ex_province = units["province"].to_numpy()[ex_unit]
    ex_province_code = units["province_code"].to_numpy()[ex_unit]
    expert_ids = person_ids[expert_person]

    # heads that are experts
    head_pid[new_head_units] = off_h + np.arange(n_heads)
    ue = np.flatnonzero(use_exp)
    head_pid[ue] = first_exp.loc[ue].to_numpy()
    units["head_id"] = _blank_where(head_pid < 0, person_ids[np.maximum(head_pid, 0)])

    # ---- text: experts
    dir_by_prog = [np.flatnonzero(prog_idx_of_dir == k) for k in range(len(prog_names))]
    short_lists = dirs["short"].tolist()
    phr_lists = dirs["phrases"].tolist()
    titles_cn = {
        "senior": "正高级职称",
        "associate": "副高级职称",
        "intermediate": "中级职称",
        "other": "",
    }
    u_names = units["name"].to_numpy()
    ex_disc = np.empty(E, dtype=object)
    ex_kw = np.empty(E, dtype=object)
    ex_prof = np.empty(E, dtype=object)
    ex_dirs: list[tuple[int, int]] = [(0, 0)] * E
    r_e = rng.random((E, 8)).tolist()
    ri = rng.integers(0, 1 << 30, (E, 8)).tolist()
    ex_prog_l = ex_prog.tolist()
    ex_kind_l = ex_kind.tolist()
    ex_unit_l = ex_unit.tolist()
    ex_title_l = title[expert_person].tolist()
    for i in range(E):
        pname = prog_names[ex_prog_l[i]]
        codes_p = PROGRAMME_DISCIPLINES.get(pname, _FALLBACK_DISCIPLINES)
        nd = 1 + int(r_e[i][0] * 3) % 3
        disc = list(codes_p[: max(1, min(nd, len(codes_p)))])
        if r_e[i][1] < 0.3 and len(codes_p) > 1:
            disc = [codes_p[ri[i][0] % len(codes_p)]] + [
                c for c in disc if c != codes_p[ri[i][0] % len(codes_p)]
            ]
        if r_e[i][2] < 0.12:
            other = PROGRAMME_DISCIPLINES[_PROGRAMME_ORDER[ri[i][1] % len(_PROGRAMME_ORDER)]][0]
            if other not in disc:
                disc.append(other)
        if ex_kind_l[i] == "finance":
            disc = list(_FINANCE_DISCIPLINES[: 1 + ri[i][2] % 2]) + disc[:1]
        ex_disc[i] = ";".join(disc)
        dl_ = dir_by_prog[ex_prog_l[i]]
        d1 = dl_[ri[i][3] % len(dl_)]
        d2 = dl_[ri[i][4] % len(dl_)]
        ex_dirs[i] = (d1, d2)
        pool = short_lists[d1] + [s for s in short_lists[d2] if s not in short_lists[d1]]
        nk = 3 + ri[i][5] % 3
        start = ri[i][6] % len(pool)
        kws = [pool[(start + 3 * j) % len(pool)] for j in range(nk)]
        kws = list(dict.fromkeys(kws))
        kws.append(_GENERIC_KEYWORDS[ri[i][7] % len(_GENERIC_KEYWORDS)])
        eng = _ENGLISH.get(pname, _ENGLISH_GENERIC)
        if r_e[i][3] < 0.3:
            kws.append(eng[ri[i][2] % len(eng)])
        if ex_kind_l[i] == "finance":
            kws = ["财务审计", "项目预算评审", "投融资分析"][: 1 + ri[i][5] % 3] + kws[:2]
        ex_kw[i] = ";".join(kws)
        role = {
            "academic": "长期从事",
            "industry": "在企业一线负责",
            "finance": "长期参与科技项目财务评审，熟悉",
        }[ex_kind_l[i]]
        prof = (
            f"{u_names[ex_unit_l[i]]}{titles_cn[ex_title_l[i]]}，{role}{kws[0]}、"
            f"{kws[1 % len(kws)]}等方向的研究与应用，"
            f"曾承担{pname}领域{1 + ri[i][0] % 6}项省部级以上科研项目。"
        )
        if r_e[i][4] < 0.35:
            e1, e2 = eng[ri[i][1] % len(eng)], _ENGLISH_GENERIC[ri[i][3] % 4]
            prof += f" Research interests: {e1}, {e2}."
        ex_prof[i] = prof
    level = rng.choice(np.array(["A", "B", "C"], dtype=object), size=E, p=[0.2, 0.45, 0.35])
    has_load = rng.random(E) < 0.08
    max_load = pd.array(np.where(has_load, rng.integers(3, 11, E), 0), dtype="Int64")
    max_load[~has_load] = pd.NA
    active = rng.random(E) < 0.95
    experts = pd.DataFrame(
        {
            "expert_id": expert_ids,
            "disciplines": ex_disc,
            "keywords": ex_kw,
            "profile": ex_prof,
            "kind": ex_kind,
            "level": level,
            "province": ex_province,
            "max_load": max_load,
            "active": active,
            "province_code": ex_province_code,
        }
    )

    # ---- text: proposals and joint directions
    titles_p = np.empty(P, dtype=object)
    abstracts = np.empty(P, dtype=object)
    kw_p = np.empty(P, dtype=object)
    disc_p = np.empty(P, dtype=object)
    tasks = np.full((P, 5), None, dtype=object)
    rp = rng.integers(0, 1 << 30, (P, 24)).tolist()
    max_k = max(len(x) for x in phr_lists)
    rk = rng.random((P, max_k)).tolist()
    dir_list = dir_idx.tolist()
    for p in range(P):
        d = dir_list[p]
        ph = phr_lists[d]
        sh = short_lists[d]
        pname = prog_of_dir[d]
        k = len(ph)
        key = rk[p]
        perm_p = sorted(range(k), key=key.__getitem__)
        a, b, c_, e_ = (ph[perm_p[j % k]] for j in range(4))
        b_short = [x for x in sh if x != a] or sh
        titles_p[p] = _TITLE_TEMPLATES[rp[p][2] % len(_TITLE_TEMPLATES)].format(
            a=a, b=b_short[rp[p][3] % len(b_short)]
        )
        joints = [u_names[u] for u in J[p, 1 : n_joint[p]]]
        abstracts[p] = _abstract(
            rp[p], a, b, c_, e_, f"{pname}{sh[rp[p][23] % len(sh)]}", u_names[lead[p]], joints
        )
        nk = 3 + rp[p][13] % 3
        kws = list(dict.fromkeys(sh[(rp[p][14] + 2 * j) % len(sh)] for j in range(nk)))
        if rp[p][15] % 4 == 0:
            eng = _ENGLISH.get(pname, _ENGLISH_GENERIC)
            kws.append(eng[rp[p][0] % len(eng)])
        kw_p[p] = ";".join(kws)
        codes_p = PROGRAMME_DISCIPLINES.get(pname, _FALLBACK_DISCIPLINES)
        disc_p[p] = ";".join(codes_p[: 1 + rp[p][1] % 2])
        for j in range(n_joint[p]):
            tasks[p, j] = ph[perm_p[(4 + j) % k]] + _TASK_SUFFIX[(rp[p][2] + j) % len(_TASK_SUFFIX)]

    proposals = pd.DataFrame(
        {
            "proposal_id": proposal_ids,
            "batch_id": BATCH_ID,
            "direction_code": codes[dir_idx],
            "title": titles_p,
            "lead_unit_id": units["unit_id"].to_numpy()[lead],
            "pi_id": person_ids[pi_person],
            "department": dept,
            "total_budget_wan": total,
            "requested_wan": req,
            "own_funds_wan": own,
            "duration_years": duration.astype(np.int64),
            "keywords": kw_p,
            "abstract": abstracts,
            "disciplines": disc_p,
            "submitted_at": submitted,
        }
    )
    budgets = _split_budget(rng, total, n_joint)
    jr, jc = np.nonzero(J >= 0)
    joint = pd.DataFrame(
        {
            "proposal_id": proposal_ids[jr],
            "seq": (jc + 1).astype(np.int64),
            "unit_id": units["unit_id"].to_numpy()[J[jr, jc]],
            "leader_id": person_ids[leader[jr, jc]],
            "task": tasks[jr, jc],
            "budget_wan": budgets[jr, jc],
        }
    )
    team = pd.DataFrame(
        {"proposal_id": proposal_ids[tm_prop], "person_id": person_ids[tm_person], "role": tm_role}
    )

    # ---- employment
    emp_parts: list[pd.DataFrame] = []
    applicant_units = np.unique(J[J >= 0])
    pure_js = np.flatnonzero(in_js)
    sel = rng.random(n_pure)
    conflict_exp = pure_js[sel[pure_js] < 0.05]
    near_exp = pure_js[(sel[pure_js] >= 0.05) & (sel[pure_js] < 0.10)]
    generic_exp = np.flatnonzero((sel >= 0.10) & (sel < 0.22))
    concurrent_exp = pure_js[(sel[pure_js] >= 0.22) & (sel[pure_js] < 0.25)]

    def emp(
        who: np.ndarray, where: np.ndarray, s: tuple[str, str], e: tuple[str, str] | None
    ) -> None:
        keep = where != p_unit[who]
        who, where = who[keep], where[keep]
        emp_parts.append(
            pd.DataFrame(
                {
                    "person_id": person_ids[who],
                    "unit_id": units["unit_id"].to_numpy()[where],
                    "start_date": _dates(rng, *s, len(who)),
                    "end_date": _dates(rng, *e, len(who)) if e else None,
                }
            )
        )

    emp(
        conflict_exp,
        _pick(rng, applicant_units, len(conflict_exp)),
        ("2012-01-01", "2020-12-31"),
        ("2023-03-01", "2023-09-01"),
    )
    emp(
        near_exp,
        _pick(rng, applicant_units, len(near_exp)),
        ("2008-01-01", "2016-12-31"),
        ("2019-01-01", "2021-06-30"),
    )
    emp(
        generic_exp,
        _pick(rng, np.arange(n_js + n_out), len(generic_exp)),
        ("1998-01-01", "2008-12-31"),
        ("2009-01-01", "2020-12-31"),
    )
    emp(concurrent_exp, _pick(rng, js, len(concurrent_exp)), ("2018-01-01", "2023-12-31"), None)
    team_hist = off_t + np.flatnonzero((rng.random(n_team_new) < 0.08) & ~is_pi)
    emp(
        team_hist,
        _pick(rng, js, len(team_hist)),
        ("2005-01-01", "2014-12-31"),
        ("2015-01-01", "2022-12-31"),
    )
    pe_props = np.flatnonzero(pe)
    pe_hist = pe_props[rng.random(len(pe_props)) < 0.5]
    emp(
        pi_person[pe_hist],
        lead[pe_hist],
        ("2010-01-01", "2016-12-31"),
        ("2021-01-01", "2022-12-31"),
    )
    employment = pd.concat(emp_parts, ignore_index=True)
    employment = employment.drop_duplicates(["person_id", "unit_id"]).reset_index(drop=True)

    # ---- person relations
    relations = _relations(
        rng,
        n_rel,
        expert_person=np.arange(n_pure),
        expert_prog=e_prog,
        team_person=tm_person,
        team_prog=p_prog[tm_prop],
        person_ids=person_ids,
    )

    # ---- recusals
    nrec = rng.choice(np.array([0, 1, 2, 3]), size=P, p=[0.45, 0.3, 0.15, 0.1])
    rp_idx = np.repeat(np.arange(P), nrec)
    by_prog = [np.flatnonzero(e_prog == k) for k in range(len(prog_names))]
    rec_exp = np.array(
        [
            (by_prog[p_prog[p]] if len(by_prog[p_prog[p]]) else np.arange(n_pure))[
                int(rng.integers(0, max(1, len(by_prog[p_prog[p]]) or n_pure)))
            ]
            for p in rp_idx
        ],
        dtype=np.int64,
    )
    is_unit = rng.random(len(rp_idx)) < 0.25
    recusals = (
        pd.DataFrame(
            {
                "proposal_id": proposal_ids[rp_idx],
                "person_id": _blank_where(is_unit, person_ids[rec_exp]),
                "unit_id": _blank_where(~is_unit, units["unit_id"].to_numpy()[e_unit[rec_exp]]),
                "reason": np.array(_RECUSAL_REASONS, dtype=object)[
                    rng.integers(0, len(_RECUSAL_REASONS), len(rp_idx))
                ],
            }
        )
        .drop_duplicates(["proposal_id", "person_id", "unit_id"])
        .reset_index(drop=True)
    )

    # ---- direction drafters / advisors
    de_rows: list[tuple[str, str, str]] = []
    for d in range(n_dir):
        pool = by_prog[prog_idx_of_dir[d]]
        if len(pool) == 0:
            pool = np.arange(n_pure)
        k = min(len(pool), int(rng.integers(2, 5)))
        for j, e in enumerate(rng.choice(pool, size=k, replace=False)):
            de_rows.append(
                (person_ids[e], codes[d], "drafter" if j == 0 or rng.random() < 0.3 else "advisor")
            )
    direction_experts = pd.DataFrame(de_rows, columns=list(COLUMNS["direction_experts"]))

    # ---- in-progress projects
    lead_open = set(lead[(dmode == OPEN_CALL)].tolist())
    lead_comp = set(lead[(dmode == COMPETITIVE)].tolist())
    applicants_pi = set(pi_person.tolist())
    bg_exp = pure_js[rng.random(len(pure_js)) < 0.04]
    bg_heads = off_h + np.flatnonzero(rng.random(n_heads) < 0.08)
    bg = np.concatenate([bg_exp, bg_heads])
    bg = bg[
        (units["province"].to_numpy()[p_unit[bg]] == "江苏") & ~np.isin(bg, list(applicants_pi))
    ]
    bg_mode = rng.choice(
        np.array([DIRECTED, OPEN_CALL, COMPETITIVE], dtype=object), size=len(bg), p=[0.2, 0.3, 0.5]
    )
    clash = np.array(
        [
            (m_ == OPEN_CALL) and (int(p_unit[x]) in lead_open)
            for x, m_ in zip(bg, bg_mode, strict=True)
        ],
        dtype=bool,
    )
    bg_mode[clash] = COMPETITIVE
    # nor the 竞争择优 rule (any in-progress project but a 定向委托 one)
    bg_mode[np.isin(p_unit[bg], list(lead_comp))] = DIRECTED
    bg_start = rng.integers(2021, 2024, len(bg))
    pip = np.flatnonzero(rule == "pi_in_progress")
    ip_pi = np.concatenate([bg, pi_person[pip]])
    ip_unit = np.concatenate([p_unit[bg], lead[pip]])
    # planted ones are 定向委托 projects: they trip the PI rule and no lead-unit rule
    ip_mode = np.concatenate([bg_mode, np.full(len(pip), DIRECTED, dtype=object)])
    ip_start = np.concatenate([bg_start, np.full(len(pip), 2022)])
    ip_end = ip_start + rng.integers(3, 5, len(ip_start))
    ip_end = np.maximum(ip_end, 2025)
    o = rng.permutation(len(ip_pi))
    in_progress = pd.DataFrame(
        {
            "project_id": [f"IP-{i:05d}" for i in range(1, len(ip_pi) + 1)],
            "pi_id": person_ids[ip_pi[o]],
            "lead_unit_id": units["unit_id"].to_numpy()[ip_unit[o]],
            "mode": ip_mode[o],
            "start_year": ip_start[o].astype(np.int64),
            "end_year": ip_end[o].astype(np.int64),
        }
    )

    # ---- credit penalties
    pen_parts: list[pd.DataFrame] = []

    def pen(
        kind: str, ids: np.ndarray, s: tuple[str, str], e: tuple[str, str] | None, open_share: float
    ) -> None:
        n = len(ids)
        end = _dates(rng, *e, n) if e else np.full(n, None, dtype=object)
        if e is not None and open_share > 0:
            end = _blank_where(rng.random(n) < open_share, end)
        pen_parts.append(
            pd.DataFrame(
                {
                    "subject_type": kind,
                    "subject_id": ids,
                    "start_date": _dates(rng, *s, n),
                    "end_date": end,
                    "reason": np.array(_PENALTY_REASONS, dtype=object)[
                        rng.integers(0, len(_PENALTY_REASONS), n)
                    ],
                }
            )
        )

    pen(
        "unit",
        units["unit_id"].to_numpy()[lead[credit_rows]],
        ("2023-01-01", "2024-06-30"),
        ("2025-06-01", "2027-12-31"),
        0.5,
    )
    team_set = set(tm_person.tolist())
    pen_exp_pool = np.array([x for x in range(n_pure) if x not in team_set], dtype=np.int64)
    pen_exp = rng.choice(
        pen_exp_pool, size=min(len(pen_exp_pool), max(2, n_pure // 100)), replace=False
    )
    pen(
        "person",
        person_ids[pen_exp],
        ("2022-06-01", "2024-06-30"),
        ("2025-06-01", "2027-12-31"),
        0.4,
    )
    used_units = set(J[J >= 0].tolist()) | set(lead.tolist())
    idle = np.array([u for u in range(n_js) if u not in used_units], dtype=np.int64)
    if len(idle):
        idle_pen = rng.choice(idle, size=min(len(idle), max(1, len(idle) // 50)), replace=False)
        pen("unit", units["unit_id"].to_numpy()[idle_pen], ("2022-01-01", "2024-06-30"), None, 0.0)
    past = rng.choice(
        applicant_units,
        size=min(len(applicant_units), max(1, len(applicant_units) // 80)),
        replace=False,
    )
    pen(
        "unit",
        units["unit_id"].to_numpy()[past],
        ("2018-01-01", "2020-06-30"),
        ("2021-01-01", "2022-12-31"),
        0.0,
    )
    credit_penalties = pd.concat(pen_parts, ignore_index=True)

    # ---- ratings over three earlier batches
    ratings = _ratings(rng, expert_ids)

    batches = pd.DataFrame(
        {
            "batch_id": [BATCH_ID],
            "name": ["2024年度省科技重大专项"],
            "year": np.array([2024], dtype=np.int64),
            "batch_date": [BATCH_DATE],
            "deadline": [DEADLINE],
        }
    )
    people = pd.DataFrame(
        {
            "person_id": person_ids,
            "name": p_name,
            "unit_id": units["unit_id"].to_numpy()[p_unit],
            "birth_date": bd.astype("datetime64[D]").astype(str).astype(object),
            "title": title,
            **_contacts(person_ids, expert_person),
        }
    )
    planted = _planted_table(
        rule,
        partner,
        proposal_ids=proposal_ids,
        codes=codes[dir_idx],
        cap=cap,
        req=req,
        total=total,
        share=share,
        submitted=submitted,
        lead_id=units["unit_id"].to_numpy()[lead],
        pi_ids=person_ids[pi_person],
        pi_unit_id=units["unit_id"].to_numpy()[p_unit[pi_person]],
        J=J,
        unit_ids=units["unit_id"].to_numpy(),
        duration=duration,
        max_years=maxy,
    )
    truth_p, truth_e = draw_truth(list(proposal_ids), list(expert_ids), seed=seed)
    publications = _publications(expert_ids, ex_dirs, dirs, seed=seed)
    tables = {
        "guide": guide.copy(),
        "batches": batches,
        "units": units,
        "unit_relations": unit_rel,
        "people": people,
        "employment": employment,
        "experts": experts,
        "publications": publications,
        "direction_experts": direction_experts,
        "credit_penalties": credit_penalties,
        "ratings": ratings,
        "proposals": proposals,
        "joint_directions": joint,
        "team_members": team,
        "person_relations": relations,
        "recusals": recusals,
        "in_progress_projects": in_progress,
        "truth_proposals": truth_p,
        "truth_experts": truth_e,
        "planted": planted,
    }
    for kind, frame in tables.items():
        if kind != "guide":
            tables[kind] = frame.loc[:, list(COLUMNS[kind])].reset_index(drop=True)
    return tables


def _contacts(person_ids: np.ndarray, expert_person: np.ndarray) -> dict[str, np.ndarray]:
    """Invented phone numbers and addresses for the experts (the people invitations go to): a
    mobile 139 + the id's digits and ``<id>@example.org`` (a domain kept for examples)."""
    phone = np.full(len(person_ids), None, dtype=object)
    email = np.full(len(person_ids), None, dtype=object)
    ids = person_ids[expert_person]
    phone[expert_person] = ["139" + re.sub(r"\D", "", str(p)).zfill(8)[-8:] for p in ids]
    email[expert_person] = [f"{str(p).lower()}@example.org" for p in ids]
    return {"phone": phone, "email": email}


def _check_args(
    n_experts: int,
    per_direction: tuple[int, int],
    n_proposals: int | None,
    planted_share: float,
    n_relations: int | None,
) -> None:
    if n_experts < 20:
        raise GenerateInputError(f"n_experts must be at least 20, got {n_experts}")
    lo, hi = per_direction
    if lo < 1 or hi < lo:
        raise GenerateInputError(
            f"proposals_per_direction must be (lo, hi) with 1 <= lo <= hi, got {per_direction}"
        )
    if n_proposals is not None and n_proposals < 1:
        raise GenerateInputError(f"n_proposals must be at least 1, got {n_proposals}")
    if not 0.0 <= planted_share <= 0.5:
        raise GenerateInputError(f"planted_share must be in [0, 0.5], got {planted_share}")
    if n_relations is not None and n_relations < 0:
        raise GenerateInputError(f"n_relations must be >= 0, got {n_relations}")


def _relations(
    rng: np.random.Generator,
    n: int,
    *,
    expert_person: np.ndarray,
    expert_prog: np.ndarray,
    team_person: np.ndarray,
    team_prog: np.ndarray,
    person_ids: np.ndarray,
) -> pd.DataFrame:
    """n distinct person relations, mostly between experts and proposal team members.

    Mix: expert–team coauthor/coapplicant 55 %, expert–team advisor_of 10 %, expert–team
    relative_of 3 %, expert–expert 17 %, team–team 15 %. Years: coauthor/coapplicant
    2016–2023, advisor_of 2000–2020, relative_of empty.
    """
    cols = list(COLUMNS["person_relations"])
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype({"year": "Int64"})
    n_prog = int(max(expert_prog.max(initial=0), team_prog.max(initial=0))) + 1
    order = np.argsort(expert_prog, kind="stable")
    s_exp, s_prog = expert_person[order], expert_prog[order]
    starts = np.searchsorted(s_prog, np.arange(n_prog), side="left")
    ends = np.searchsorted(s_prog, np.arange(n_prog), side="right")

    def expert_in(progs: np.ndarray, same_share: float) -> np.ndarray:
        size = ends[progs] - starts[progs]
        same = (rng.random(len(progs)) < same_share) & (size > 0)
        pos = starts[progs] + (rng.random(len(progs)) * np.maximum(size, 1)).astype(np.int64)
        anyone = rng.integers(0, len(s_exp), len(progs))
        return np.where(same, s_exp[np.minimum(pos, len(s_exp) - 1)], s_exp[anyone])

    got_a: list[np.ndarray] = []
    got_b: list[np.ndarray] = []
    got_k: list[np.ndarray] = []
    have = 0
    seen = pd.DataFrame({"lo": [], "hi": [], "kind": []})
    for _ in range(10):
        m = int((n - have) * 1.15) + 16
        cat = rng.choice(5, size=m, p=[0.55, 0.10, 0.03, 0.17, 0.15])
        ti = rng.integers(0, len(team_person), m)
        t, tp = team_person[ti], team_prog[ti]
        e_t = expert_in(tp, 0.8)
        ea = expert_person[rng.integers(0, len(expert_person), m)]
        e_e = expert_in(expert_prog[np.searchsorted(expert_person, ea)], 0.85)
        t2 = team_person[rng.integers(0, len(team_person), m)]
        a = np.where(cat <= 2, e_t, np.where(cat == 3, ea, t))
        b = np.where(cat <= 2, t, np.where(cat == 3, e_e, t2))
        co = np.where(rng.random(m) < 0.6, "coauthor", "coapplicant").astype(object)
        kind = np.where(cat == 1, "advisor_of", np.where(cat == 2, "relative_of", co)).astype(
            object
        )
        flip = (cat == 1) & (rng.random(m) < 0.25)
        a, b = np.where(flip, b, a), np.where(flip, a, b)
        keep = a != b
        a, b, kind = a[keep], b[keep], kind[keep]
        got_a.append(a)
        got_b.append(b)
        got_k.append(kind)
        A = np.concatenate(got_a)
        B = np.concatenate(got_b)
        K = np.concatenate(got_k)
        seen = pd.DataFrame({"lo": np.minimum(A, B), "hi": np.maximum(A, B), "kind": K})
        first = ~seen.duplicated().to_numpy()
        have = int(first.sum())
        if have >= n:
            break
    first_idx = np.flatnonzero(~seen.duplicated().to_numpy())[:n]
    A, B, K = A[first_idx], B[first_idx], K[first_idx]
    k = len(A)
    year = np.where(
        K == "advisor_of", rng.integers(2000, 2021, k), rng.integers(2016, 2024, k)
    ).astype(np.int64)
    year_arr = pd.array(year, dtype="Int64")
    year_arr[K == "relative_of"] = pd.NA
    return pd.DataFrame(
        {"person_id": person_ids[A], "other_person_id": person_ids[B], "kind": K, "year": year_arr}
    )


_RATING_BATCHES = (("2021", "2021-11-19"), ("2022", "2022-11-18"), ("2023", "2023-11-24"))


def _ratings(rng: np.random.Generator, expert_ids: np.ndarray) -> pd.DataFrame:
    """Ratings of about 45 % of the experts over the 2021–2023 batches (2 or 3 each); a few
    (1 %, at least 2) rated poor in both of their two most recent batches, nobody else."""
    E = len(expert_ids)
    idx = np.flatnonzero(rng.random(E) < 0.45)
    m = len(idx)
    r = rng.choice(
        np.array(["good", "fair", "poor"], dtype=object), size=(m, 3), p=[0.7, 0.25, 0.05]
    )
    both = (r[:, 1] == "poor") & (r[:, 2] == "poor")
    r[both, 2] = "fair"
    bad = rng.choice(m, size=min(m, max(2, E // 100)), replace=False)
    r[bad, 1] = "poor"
    r[bad, 2] = "poor"
    include = np.ones((m, 3), dtype=bool)
    include[:, 0] = rng.random(m) < 0.5
    rows, cols = np.nonzero(include)
    return pd.DataFrame(
        {
            "expert_id": expert_ids[idx[rows]],
            "batch_id": np.array([b for b, _ in _RATING_BATCHES], dtype=object)[cols],
            "rating": r[rows, cols],
            "rated_on": np.array([d for _, d in _RATING_BATCHES], dtype=object)[cols],
        }
    )


def _planted_table(
    rule: np.ndarray,
    partner: np.ndarray,
    *,
    proposal_ids: np.ndarray,
    codes: np.ndarray,
    cap: np.ndarray,
    req: np.ndarray,
    total: np.ndarray,
    share: np.ndarray,
    submitted: np.ndarray,
    lead_id: np.ndarray,
    pi_ids: np.ndarray,
    pi_unit_id: np.ndarray,
    J: np.ndarray,
    unit_ids: np.ndarray,
    duration: np.ndarray,
    max_years: np.ndarray,
) -> pd.DataFrame:
    """One row per planted (proposal_id, rule) with a sentence stating the break."""
    rows: list[tuple[str, str, str]] = []
    other = {int(b): int(a) for b, a in enumerate(partner) if a >= 0}
    other.update({a: b for b, a in list(other.items())})
    for p in np.flatnonzero(rule != ""):
        r = str(rule[p])
        if r == "direction_cap":
            d = f"requested {req[p]:.0f}万 exceeds the {cap[p]:.0f}万 cap of direction {codes[p]}"
        elif r == "funding_share":
            d = (
                f"requested {req[p]:.0f}万 is {100 * req[p] / total[p]:.1f}% of the total budget "
                f"{total[p]:.0f}万, above the {100 * share[p]:.0f}% limit"
            )
        elif r == "funding_max":
            d = f"requested {req[p]:.0f}万 exceeds the {FUNDING_MAX_WAN:.0f}万 per-project maximum"
        elif r == "enterprise_partner":
            d = f"lead unit {lead_id[p]} is not an enterprise and no joint unit is an enterprise"
        elif r == "related_joint_units":
            d = f"joint unit {unit_ids[J[p, 1]]} is related to (held by) the lead unit {lead_id[p]}"
        elif r == "pi_in_progress":
            d = f"PI {pi_ids[p]} leads an in-progress {DIRECTED} provincial project"
        elif r == "one_per_pi":
            d = f"PI {pi_ids[p]} also leads {proposal_ids[other[int(p)]]} in this batch"
        elif r == "deadline":
            d = f"submitted at {submitted[p]}, after the {DEADLINE} deadline"
        elif r == "credit":
            d = f"lead unit {lead_id[p]} has an active credit penalty"
        elif r == "duration":
            d = f"runs {duration[p]} years, over the {max_years[p]}-year limit of {codes[p]}"
        else:
            d = f"PI {pi_ids[p]} is employed by {pi_unit_id[p]}, not by the lead unit {lead_id[p]}"
        rows.append((str(proposal_ids[p]), r, d))
    return pd.DataFrame(rows, columns=list(COLUMNS["planted"]))


def write_batch(tables: dict[str, pd.DataFrame], directory: str | Path) -> list[Path]:
    """Write ``<kind>.csv`` (UTF-8, booleans true/false, empty = missing) for every table;
    returns the paths in the order of ``tables``. Creates the directory if needed."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind, frame in tables.items():
        out = frame.copy()
        for col in out.columns:
            dt = out[col].dtype
            if pd.api.types.is_bool_dtype(dt):
                out[col] = out[col].map({True: "true", False: "false"}).astype(object)
        path = out_dir / f"{kind}.csv"
        out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        paths.append(path)
    return paths
