# Python hassil baseline for Emma's intent benchmark (`cargo bench -p emma-intent --bench intents`
# and `emma bench intents`): loads an HA intents tree and fixtures, recognises the sentences
# given as JSON, prints timings, peak RSS and the intents it found as one JSON object.
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
import yaml
from hassil import Intents, recognize_best
from hassil.intents import TextSlotList
root, lang, cases_path = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
intents = Intents.from_files(sorted((root / "sentences" / lang).glob("*.yaml")))
fx = yaml.safe_load(open(root / "tests" / lang / "_fixtures.yaml", encoding="utf-8"))
def entity_context(e):
    ctx = {"domain": e.get("domain") or e.get("id", "").split(".")[0]}
    dc = (e.get("attributes") or {}).get("device_class")
    if dc:
        ctx["device_class"] = dc
    return ctx
slot_lists = {
    "area": TextSlotList.from_tuples([(a["name"], a["name"]) for a in fx.get("areas", [])], allow_template=False),
    "floor": TextSlotList.from_tuples([(f["name"], f["name"]) for f in fx.get("floors", [])], allow_template=False),
    "name": TextSlotList.from_tuples([(e["name"], e["name"], entity_context(e)) for e in fx.get("entities", [])], allow_template=False),
}
load_s = time.perf_counter() - t0
cases = json.load(open(cases_path, encoding="utf-8"))
results = []
t1 = time.perf_counter()
for c in cases:
    r = recognize_best(c["text"], intents, slot_lists=slot_lists, intent_context=c["context"] or None, language=lang, best_slot_name="name")
    results.append(r.intent.name if r else None)
elapsed = time.perf_counter() - t1
print(json.dumps({"load_s": load_s, "elapsed_s": elapsed, "sentences": len(cases), "intents": results,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
