"""Benchmark: affinity model and top-N candidates on a synthetic batch.

    python scripts/bench_affinity.py --proposals 20000 --experts 30000 --top 60 --json

Texts are sampled from a small vocabulary of Chinese (and some English) technical terms grouped
by programme; codes from a few disciplines per programme. Prints fit_s, top_s, wall_s
(fit + top-N; synthesis not counted), cpu_s (user + system over the same span; fit_cpu_s,
top_cpu_s and sys_cpu_s split it), peak_rss_mb and nnz. On a shared machine compare the CPU
figures: wall time depends on the other load.
"""

from __future__ import annotations

import json
import resource
import time

import click
import numpy as np
import pandas as pd

from assign.affinity import fit_affinity, top_candidates

# programme → (technical terms, discipline codes)
VOCAB: dict[str, tuple[list[str], list[str]]] = {
    "第三代半导体": (
        "碳化硅 氮化镓 功率器件 外延生长 衬底 MOSFET 高压 肖特基二极管 栅氧可靠性 "
        "功率模块 封装 散热 击穿电压 缺陷密度 离子注入 退火 宽禁带 射频器件 "
        "HEMT 沟槽栅 动态电阻 GaN SiC 导通电阻".split(),
        ["0809", "080903", "0805", "080501"],
    ),
    "6G技术": (
        "无蜂窝 太赫兹 毫米波 基带 MIMO 卫星通信 信道估计 波束赋形 智能超表面 "
        "通感一体化 无线接入网 云化 频谱 天线阵列 低轨卫星 射频前端 调制解调 "
        "网络切片 边缘计算 OFDM 光载无线 相控阵".split(),
        ["0810", "081001", "081002", "0809"],
    ),
    "人工智能": (
        "大模型 垂直领域 具身智能 语音识别 图像生成 视频生成 多模态 知识图谱 "
        "强化学习 推理芯片 智能编译器 异构算力 联邦学习 可信AI 深度学习 Transformer "
        "微调 检索增强 工业机器人 智能巡检 安全对齐 内容审核 LLM".split(),
        ["0812", "081203", "0811", "081104"],
    ),
    "战略新材料": (
        "二维材料 光电集成 超表面 碳捕集 膜分离 超宽禁带 氧化镓 金刚石 "
        "限域传质 复合材料 纳米材料 薄膜沉积 石墨烯 高熵合金 陶瓷基 "
        "电子束 晶体生长 光刻胶 聚酰亚胺 气凝胶".split(),
        ["0805", "080502", "0817", "0703"],
    ),
    "集成电路": (
        "数字电路 EDA 验证仿真 晶圆缺陷检测 明场检测 原子层沉积 原子层刻蚀 互连 "
        "DSP芯片 车规级 先进封装 Chiplet 光刻 工艺节点 良率 时序分析 "
        "版图 RISC-V 存算一体 FPGA 射频芯片 模拟电路".split(),
        ["0809", "080902", "0812", "1401"],
    ),
    "生物医药": (
        "脑机接口 神经血流耦合 抗体药物 靶点发现 抗抑郁 基因治疗 AAV载体 "
        "抗感染 耐药菌 小分子 ADC 细胞治疗 CAR-T mRNA疫苗 药代动力学 "
        "临床前研究 蛋白质结构 单细胞测序 类器官 生物标志物".split(),
        ["1007", "100701", "0710", "1002"],
    ),
    "高端装备": (
        "重载机器人 线控底盘 电动运载 涡轮混合电推进 航空器 深海观测 高可靠性 "
        "航天器 综合电子 松耦合 伺服电机 减速器 数控机床 故障诊断 数字孪生 "
        "增材制造 液压系统 精密加工 导航控制".split(),
        ["0802", "080201", "0811", "0825"],
    ),
    "新能源": (
        "叠层光伏 钙钛矿 晶硅电池 柔性太阳电池 风电机组 多风轮 构网型 中压发电 "
        "换流器 直流外送 深远海风电 模块化多电平 逆变器 储能变流 光伏组件 "
        "转换效率 电网支撑 功率预测".split(),
        ["0807", "080702", "0808", "080802"],
    ),
    "氢能与储能": (
        "氢燃料电池 低铂催化剂 质子交换膜 电堆 电解水制氢 光辅助电解 全固态电池 "
        "硫化物电解质 氧化物电解质 聚合物电解质 能量密度 循环寿命 储氢 "
        "固态储氢 热管理 电池管理系统 锂金属负极 正极材料".split(),
        ["0807", "080701", "0703", "070304"],
    ),
}
COMMON = (
    "关键技术 研发 应用 示范 系统 集成 优化 设计 方法 平台 高效 低成本 产业化 "
    "工程化 国产化 自主可控 性能 测试 标准 验证".split()
)
TITLE_TEMPLATES = ("基于{a}的{b}{c}研发", "面向{a}的{b}关键技术研究", "{a}与{b}{c}及应用")
ABSTRACT_SENTENCES = (
    "本项目围绕{a}开展{c}，突破{b}等瓶颈。",
    "针对{a}中的{b}问题，提出新的{c}。",
    "研制{a}样机，完成{b}{c}，形成示范应用。",
    "项目将建立{a}与{b}的{c}平台。",
    "We develop {a} for {b} with improved {c}.",
)
PROFILE_SENTENCES = (
    "长期从事{a}和{b}研究。",
    "主持{a}相关国家重点研发计划项目，在{b}方面有深入积累。",
    "研究方向为{a}、{b}及{c}。",
    "Research interests: {a}, {b}.",
)


def _draw(rng: np.random.Generator, n_rows: int, n_items: int, k: int) -> np.ndarray:
    """(n_rows, k) int: per row, k distinct items of range(n_items) in random order."""
    return np.argsort(rng.random((n_rows, n_items)), axis=1)[:, :k]


def _term_picks(
    rng: np.random.Generator, prog: np.ndarray, k: int, pools: list[list[str]]
) -> np.ndarray:
    """(len(prog), k) object array: per row, k distinct terms of its programme's pool."""
    out = np.empty((prog.size, k), dtype=object)
    for g, pool in enumerate(pools):
        rows = np.flatnonzero(prog == g)
        if rows.size:
            out[rows] = np.asarray(pool, dtype=object)[_draw(rng, rows.size, len(pool), k)]
    return out


def synthesise(
    n_proposals: int, n_experts: int, *, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(proposals, experts, guide) frames with the columns the affinity model reads.

    Draws are vectorised per programme, so 20,000 × 30,000 takes seconds.
    """
    rng = np.random.default_rng(seed)
    progs = list(VOCAB)
    pools = [VOCAB[p][0] for p in progs]
    code_pools = [VOCAB[p][1] for p in progs]
    n_dirs = max(len(progs), n_proposals // 50)

    # -- guide directions: six focus terms each
    d_prog = np.arange(n_dirs) % len(progs)
    d_terms = _term_picks(rng, d_prog, 6, pools)
    d_sent = rng.integers(len(ABSTRACT_SENTENCES), size=(n_dirs, 5))
    d_common = rng.integers(len(COMMON), size=(n_dirs, 5))
    guide = pd.DataFrame(
        {
            "code": [f"{d_prog[d] + 1}{d // len(progs) + 1:03d}" for d in range(n_dirs)],
            "title": [f"{t[0]}{t[1]}关键技术研发" for t in d_terms.tolist()],
            "research_content": [
                "".join(
                    ABSTRACT_SENTENCES[s].format(a=t[i], b=t[i + 1], c=COMMON[c])
                    for i, (s, c) in enumerate(zip(ss, cc, strict=True))
                )
                for t, ss, cc in zip(
                    d_terms.tolist(), d_sent.tolist(), d_common.tolist(), strict=True
                )
            ],
        }
    )

    # -- proposals: eight terms of the programme, the first three from the direction's focus
    dirs = rng.integers(0, n_dirs, size=n_proposals)
    p_prog = d_prog[dirs]
    p_terms = _term_picks(rng, p_prog, 8, pools)
    focus = np.take_along_axis(d_terms[dirs], _draw(rng, n_proposals, 6, 3), axis=1)
    p_terms[:, :3] = focus
    p_title = rng.integers(len(TITLE_TEMPLATES), size=n_proposals)
    p_title_c = rng.integers(len(COMMON), size=n_proposals)
    p_sent = rng.integers(len(ABSTRACT_SENTENCES), size=(n_proposals, 8))
    p_common = rng.integers(len(COMMON), size=(n_proposals, 8))
    p_codes = _draw(rng, n_proposals, 4, 2)
    terms = p_terms.tolist()
    proposals = pd.DataFrame(
        {
            "proposal_id": [f"P{i:06d}" for i in range(n_proposals)],
            "direction_code": guide["code"].to_numpy(dtype=object)[dirs],
            "title": [
                TITLE_TEMPLATES[k].format(a=t[0], b=t[1], c=COMMON[c])
                for t, k, c in zip(terms, p_title.tolist(), p_title_c.tolist(), strict=True)
            ],
            "keywords": [";".join(t[:4]) for t in terms],
            "abstract": [
                "".join(
                    ABSTRACT_SENTENCES[s].format(a=t[j], b=t[(j + 3) % 8], c=COMMON[c])
                    for j, (s, c) in enumerate(zip(ss, cc, strict=True))
                )
                for t, ss, cc in zip(terms, p_sent.tolist(), p_common.tolist(), strict=True)
            ],
            "disciplines": [
                f"{code_pools[g][a]};{code_pools[g][b]}"
                for g, (a, b) in zip(p_prog.tolist(), p_codes.tolist(), strict=True)
            ],
        }
    )

    # -- experts: six terms of a programme; a fifth span two programmes
    e_prog = rng.integers(len(progs), size=n_experts)
    e_terms = _term_picks(rng, e_prog, 6, pools)
    span = rng.random(n_experts) < 0.2
    other = rng.integers(len(progs), size=n_experts)
    rows = np.flatnonzero(span)
    e_terms[rows, 4:] = _term_picks(rng, other[rows], 2, pools)
    e_sent = rng.integers(len(PROFILE_SENTENCES), size=(n_experts, 3))
    e_n_codes = rng.integers(1, 3, size=n_experts)
    e_codes = _draw(rng, n_experts, 4, 2)
    terms = e_terms.tolist()
    experts = pd.DataFrame(
        {
            "expert_id": [f"E{i:06d}" for i in range(n_experts)],
            "keywords": [";".join(t[:4]) for t in terms],
            "profile": [
                "".join(
                    PROFILE_SENTENCES[s].format(a=t[j % 6], b=t[(j + 2) % 6], c=t[(j + 4) % 6])
                    for j, s in enumerate(ss)
                )
                for t, ss in zip(terms, e_sent.tolist(), strict=True)
            ],
            "disciplines": [
                ";".join(code_pools[g][c] for c in cs[:n])
                for g, cs, n in zip(
                    e_prog.tolist(), e_codes.tolist(), e_n_codes.tolist(), strict=True
                )
            ],
        }
    )
    return proposals, experts, guide


def _cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


@click.command()
@click.option("--proposals", "n_proposals", type=int, default=20_000, show_default=True)
@click.option("--experts", "n_experts", type=int, default=30_000, show_default=True)
@click.option("--top", "top_n", type=int, default=60, show_default=True)
@click.option("--per-expert", type=int, default=3, show_default=True)
@click.option("--max-terms", type=int, default=250, show_default=True, help="0 keeps all")
@click.option("--shortlist", type=int, default=256, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(
    n_proposals: int,
    n_experts: int,
    top_n: int,
    per_expert: int,
    max_terms: int,
    shortlist: int,
    threads: int,
    seed: int,
    as_json: bool,
) -> None:
    """Time fit_affinity + top_candidates on a synthetic batch."""
    t0 = time.perf_counter()
    proposals, experts, guide = synthesise(n_proposals, n_experts, seed=seed)
    t1 = time.perf_counter()
    c1 = _cpu()
    model = fit_affinity(
        proposals, experts, guide, max_terms=max_terms or None, shortlist=shortlist,
        n_threads=threads,
    )  # fmt: skip
    t2 = time.perf_counter()
    c2 = _cpu()
    aff = top_candidates(model, top_n=top_n, per_expert=per_expert)
    t3 = time.perf_counter()
    c3 = _cpu()
    cpu = sum(c3) - sum(c1)
    covered = int(np.unique(aff.cand_e).size)
    per_p = np.bincount(aff.cand_p, minlength=n_proposals)
    out = {
        "proposals": n_proposals,
        "experts": n_experts,
        "top_n": top_n,
        "vocabulary": int(model.term_keys.size),
        "synth_s": round(t1 - t0, 2),
        "fit_s": round(t2 - t1, 2),
        "top_s": round(t3 - t2, 2),
        "wall_s": round(t3 - t1, 2),
        "cpu_s": round(cpu, 2),
        "fit_cpu_s": round(sum(c2) - sum(c1), 2),
        "top_cpu_s": round(sum(c3) - sum(c2), 2),
        "sys_cpu_s": round(c3[1] - c1[1], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "nnz": aff.nnz,
        "experts_covered": covered,
        "pairs_per_proposal_min": int(per_p.min()) if n_proposals else 0,
        "pairs_per_proposal_max": int(per_p.max()) if n_proposals else 0,
        "mean_score": round(float(aff.cand_w.mean()), 4) if aff.nnz else 0.0,
    }
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k:>24}: {v}")


if __name__ == "__main__":
    main()
