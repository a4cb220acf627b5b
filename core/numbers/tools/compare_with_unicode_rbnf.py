#!/usr/bin/env python3
"""Differential check of emma-numbers against the Python `unicode-rbnf` package
(the engine hassil uses), over every language and a range of numbers.

    python3 -m venv /tmp/rbnf-venv && /tmp/rbnf-venv/bin/pip install unicode-rbnf==2.4.1
    cargo build --release -p emma-numbers --example spell_out
    /tmp/rbnf-venv/bin/python core/numbers/tools/compare_with_unicode_rbnf.py \
        $CARGO_TARGET_DIR/release/examples/spell_out

Prints, per language with differences, how many (number, rule set, text)
triples differ, a few examples, and the totals. Differences are expected
where unicode-rbnf departs from ICU (negative decimals lose their fraction,
Lithuanian 100000, Burmese rollback, Zulu's radix rules, fraction rule sets).
"""

import subprocess
import sys
from pathlib import Path

from unicode_rbnf import RbnfEngine

NUMBERS = [str(n) for n in range(0, 1101)] + [
    "1999", "2000", "2001", "2024", "10000", "12345", "21000", "100000",
    "123456", "1000000", "2000000", "5000000", "1234567", "1000000000",
    "-1", "-25", "-1000",
]


def reference(lang: str) -> set:
    engine = RbnfEngine.for_language(lang)
    out = set()
    for n in NUMBERS:
        try:
            result = engine.format_number(int(n))
        except Exception:  # no rule: the language has nothing to compare
            continue
        for ruleset, text in result.text_by_ruleset.items():
            out.add((n, ruleset, text))
    return out


def emma(binary: str, lang: str) -> set:
    lines = subprocess.run(
        [binary, lang, *NUMBERS], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return {tuple(l.split("\t", 2)) for l in lines if "\terror: " not in l}


def main() -> None:
    binary = sys.argv[1]
    data = Path(__file__).resolve().parent.parent / "data" / "rbnf"
    total = differ = 0
    for path in sorted(data.glob("*.xml")):
        lang = path.stem
        if lang in {"en_001", "es_419", "nb"}:  # not loadable in unicode-rbnf
            continue
        ref, ours = reference(lang), emma(binary, lang)
        diff = ref ^ ours
        total += len(ref)
        differ += len(diff)
        if diff:
            print(f"{lang}: {len(diff)} of {len(ref)} differ, e.g. {sorted(diff)[:2]}")
    print(f"total: {differ} of {total} (number, rule set, text) triples differ")


if __name__ == "__main__":
    main()
