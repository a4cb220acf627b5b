#!/usr/bin/env python3
"""Count the out-of-domain sentences the reference hassil accepts.

Usage (hassil 3.0.1 in a venv):
    python3 -m venv /tmp/hassil-venv && /tmp/hassil-venv/bin/pip install hassil==3.0.1
    /tmp/hassil-venv/bin/python hassil_false_accepts.py ../shared/data/ha-intents en en.txt

Loads sentences/<lang>/*.yaml of the HA intents tree with the fixtures of
tests/<lang>/_fixtures.yaml as the {area}, {floor} and {name} lists (entity
names carry their domain as context, like the HA test harness), runs
recognize_best on every sentence of the file and prints each accepted one
with the intent and slots, then "N of M accepted".
"""

import sys
from pathlib import Path

import yaml
from hassil import Intents, recognize_best
from hassil.intents import TextSlotList
from hassil.util import merge_dict


def main() -> None:
    root, lang, sentences_path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    merged: dict = {}
    for path in sorted((root / "sentences" / lang).glob("*.yaml")):
        merge_dict(merged, yaml.safe_load(path.read_text(encoding="utf-8")))
    intents = Intents.from_dict(merged)

    fixtures = yaml.safe_load((root / "tests" / lang / "_fixtures.yaml").read_text(encoding="utf-8"))
    slot_lists = {
        "area": TextSlotList.from_tuples(
            [(a["name"], a["name"], {"area": a["id"]}) for a in fixtures.get("areas", [])],
            allow_template=False,
        ),
        "floor": TextSlotList.from_tuples(
            [(f["name"], f["name"], {"floor": f["id"]}) for f in fixtures.get("floors", [])],
            allow_template=False,
        ),
        "name": TextSlotList.from_tuples(
            [
                (e["name"], e["name"], {"domain": e["id"].split(".", 1)[0]})
                for e in fixtures.get("entities", [])
            ],
            allow_template=False,
        ),
    }

    lines = [
        line.strip()
        for line in sentences_path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    accepted = 0
    for sentence in lines:
        result = recognize_best(sentence, intents, slot_lists=slot_lists, language=lang)
        if result is not None:
            accepted += 1
            slots = {k: v.value for k, v in result.entities.items()}
            print(f"ACCEPTED {sentence!r} -> {result.intent.name} {slots}")
    print(f"{accepted} of {len(lines)} accepted")


if __name__ == "__main__":
    main()
