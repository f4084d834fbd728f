"""What the parts of the synthetic batch generator share: its error, the call's project modes,
and seeded draws of dates, ids and invented names."""

from __future__ import annotations

import numpy as np

DIRECTED = "定向委托"


OPEN_CALL = "揭榜挂帅"


COMPETITIVE = "竞争择优"


_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史黎贺顾毛郝龚邵"
    "万钱严武戴莫孔向汤"
)


_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍鹏辉婷晨宇浩然轩欣怡涵"
    "诺思远博文嘉琪雨佳俊峰海波建国志晓东立新春燕红梅"
)


_EPOCH = np.datetime64("1970-01-01")


class GenerateInputError(ValueError):
    """Bad input to the batch generator."""


def day_number(s: str) -> int:
    return int((np.datetime64(s) - _EPOCH).astype(np.int64))


def random_dates(rng: np.random.Generator, lo: str, hi: str, n: int) -> np.ndarray:
    """n ISO date strings uniform in [lo, hi]."""
    d = rng.integers(day_number(lo), day_number(hi) + 1, size=n)
    return (d.astype("datetime64[D]")).astype(str).astype(object)


def pick_from(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """n uniform draws (with replacement) from a 1-d pool."""
    if len(pool) == 0:
        raise GenerateInputError("internal: empty pool; raise n_proposals or n_experts")
    return pool[rng.integers(0, len(pool), size=n)]


def blank_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Object array of values with None where mask is true."""
    out = np.asarray(values, dtype=object).copy()
    out[mask] = None
    return out


def numbered_ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def random_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """n invented person names: a common surname + one or two given-name characters."""
    sur = np.array(list(_SURNAMES))[rng.integers(0, len(_SURNAMES), n)]
    g = np.array(list(_GIVEN))
    g1 = g[rng.integers(0, len(g), n)]
    g2 = np.where(rng.random(n) < 0.7, g[rng.integers(0, len(g), n)], "")
    return np.char.add(np.char.add(sur, g1), g2).astype(object)
