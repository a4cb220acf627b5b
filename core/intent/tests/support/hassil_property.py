# hassil's answers for Emma's property test (core/intent/tests/property.rs).
#
#   python hassil_property.py < cases.json > answers.json
#
# Input: a JSON list of {"doc": <intents dictionary as hassil's Intents.from_dict
# takes it>, "sentences": [text, ...]}. Output: per case, per sentence, hassil's
# recognize_best(best_slot_name="name") answer (intent, slots with value and
# text, response) or null, or {"error": message} when hassil can't load the doc.
import json
import sys

from hassil import Intents, recognize_best


def value_json(v):
    if isinstance(v, (list, tuple)):
        return [value_json(x) for x in v]
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


out = []
for case in json.load(sys.stdin):
    try:
        intents = Intents.from_dict(case["doc"])
    except Exception as e:  # a template hassil rejects
        out.append({"error": f"{type(e).__name__}: {e}"})
        continue
    answers = []
    for text in case["sentences"]:
        try:
            r = recognize_best(text, intents, language=case["doc"]["language"], best_slot_name="name")
        except Exception as e:
            answers.append({"error": f"{type(e).__name__}: {e}"})
            continue
        if r is None:
            answers.append(None)
        else:
            answers.append({
                "intent": r.intent.name,
                "slots": {e.name: {"value": value_json(e.value), "text": e.text} for e in r.entities.values()},
                "response": r.response,
            })
    out.append({"answers": answers})
json.dump(out, sys.stdout, ensure_ascii=False)
