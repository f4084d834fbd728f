"""The text of a synthetic batch: experts' disciplines, keywords, profiles and publications, and
proposals' titles, abstracts and keywords, drawn from the guide directions' own phrases."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

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


PROGRAMME_ORDER = tuple(PROGRAMME_DISCIPLINES)


FALLBACK_DISCIPLINES = ("0812", "0802", "0805")


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


PAD_PHRASES = (
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


TASK_SUFFIX = ("研究", "研发", "验证与示范", "工程化开发", "集成与测试")


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


def phrases_of(*texts: object) -> list[str]:
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


def make_publications(
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


def expert_text(
    rng: np.random.Generator,
    *,
    E: int,
    dirs: pd.DataFrame,
    ex_kind: np.ndarray,
    ex_prog: np.ndarray,
    ex_unit: np.ndarray,
    expert_person: np.ndarray,
    prog_idx_of_dir: np.ndarray,
    prog_names: list[str],
    title: np.ndarray,
    units: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Each expert's disciplines, keywords and profile text from their programme's directions, and
    the two directions (indices) their work is drawn from."""
    dir_by_prog = [np.flatnonzero(prog_idx_of_dir == k) for k in range(len(prog_names))]
    short_lists = dirs["short"].tolist()
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
        codes_p = PROGRAMME_DISCIPLINES.get(pname, FALLBACK_DISCIPLINES)
        nd = 1 + int(r_e[i][0] * 3) % 3
        disc = list(codes_p[: max(1, min(nd, len(codes_p)))])
        if r_e[i][1] < 0.3 and len(codes_p) > 1:
            disc = [codes_p[ri[i][0] % len(codes_p)]] + [
                c for c in disc if c != codes_p[ri[i][0] % len(codes_p)]
            ]
        if r_e[i][2] < 0.12:
            other = PROGRAMME_DISCIPLINES[PROGRAMME_ORDER[ri[i][1] % len(PROGRAMME_ORDER)]][0]
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
    return ex_disc, ex_kw, ex_prof, ex_dirs


def proposal_text(
    rng: np.random.Generator,
    *,
    P: int,
    J: np.ndarray,
    dir_idx: np.ndarray,
    lead: np.ndarray,
    n_joint: np.ndarray,
    dirs: pd.DataFrame,
    prog_of_dir: np.ndarray,
    units: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each proposal's title, abstract, keywords, disciplines and its joint units' tasks."""
    short_lists = dirs["short"].tolist()
    phr_lists = dirs["phrases"].tolist()
    u_names = units["name"].to_numpy()
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
        codes_p = PROGRAMME_DISCIPLINES.get(pname, FALLBACK_DISCIPLINES)
        disc_p[p] = ";".join(codes_p[: 1 + rp[p][1] % 2])
        for j in range(n_joint[p]):
            tasks[p, j] = ph[perm_p[(4 + j) % k]] + TASK_SUFFIX[(rp[p][2] + j) % len(TASK_SUFFIX)]
    return titles_p, abstracts, kw_p, disc_p, tasks
