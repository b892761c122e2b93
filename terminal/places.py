"""Work locations as place names: a GB/T 2260 administrative division code (docs/spec.md
§4.4, six digits: province, prefecture, county) shown with its name in Chinese and English,
from the vendored table terminal/data/gb2260.tsv (its source, date and licence:
terminal/data/GB2260-SOURCE.md).

The name is the county-level division with the prefecture and the province above it, as an
address is read in each language: ``上海市浦东新区`` and ``Pudong New Area, Shanghai``. A
level whose name repeats the one above (a municipality's 市辖区 level) is left out. A code
not in the table is shown as the code alone: the page never guesses a place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "gb2260.tsv"


@dataclass(frozen=True)
class Place:
    code: str
    zh: str | None  # None: the code is not in the table
    en: str | None

    def label(self) -> str:
        """One line for the command line: ``310115 Pudong New Area, Shanghai 上海市浦东新区``."""
        return self.code if self.zh is None else f"{self.code} {self.en} {self.zh}"

    def to_dict(self) -> dict:
        return {"code": self.code, "zh": self.zh, "en": self.en}


@cache
def _table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, zh, en = line.split("\t")
            rows[code] = (zh, en)
    return rows


def place(code: str | int | None) -> Place | None:
    """The place of a division code, or None when there is no code."""
    if code is None or code == "":
        return None
    code = f"{int(code):06d}" if isinstance(code, int) or str(code).isdigit() else str(code)
    table = _table()
    if code not in table:
        return Place(code, None, None)
    levels = []
    for key in dict.fromkeys((code, code[:4] + "00", code[:2] + "0000")):  # county, prefecture, province
        if key in table and not (levels and table[key][0] == levels[-1][0]):
            levels.append(table[key])
    return Place(code, "".join(zh for zh, _ in reversed(levels)), ", ".join(en for _, en in levels))
