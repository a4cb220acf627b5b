# Differential sampling for Emma's intent engine against hassil (used by
# core/intent/tests/differential.rs and `cargo bench -p emma-intent --bench differential`).
#
#   python hassil_differential.py DATA_DIR FIXTURES.yaml CAP SEED LIMIT LANG… > out.json
#   (LANG `all`: every language of the package; LIMIT 0: no limit)
#
# DATA_DIR is the `home_assistant_intents/data` directory of the PyPI package
# (one merged JSON per language, loaded with `Intents.from_dict`); FIXTURES is
# an HA `_fixtures.yaml` whose areas, floors and entities become the `area`,
# `floor` and `name` lists of every language. For every template of every
# intent, up to CAP sentences are drawn at random (fixed SEED) by walking the
# template the way hassil's sample generator does (alternatives, optionals,
# permutations, list values, ranges as digits and as number words, rules), with
# wildcards filled from a small pool of fillers, and each is recognised with
# hassil's `recognize_best(best_slot_name="name")`; LIMIT > 0 keeps that many
# sentences per language, drawn at random. One JSON object comes out:
# per language the cases (text, context, hassil's intent, slots, response),
# hassil's load and recognition seconds (wall clock, and CPU time of the
# recognising thread: one pass over the sentences, warm-up included).
import json, random, sys, time
from pathlib import Path

import yaml
from hassil import Intents, recognize_best
from hassil.expression import (Alternative, ListReference, Permutation, RuleReference,
                               Sequence, TextChunk)
from hassil.intents import RangeSlotList, TextSlotList, WildcardSlotList
from hassil.util import normalize_whitespace
from unicode_rbnf import RbnfEngine

data_dir, fixtures_path = Path(sys.argv[1]), Path(sys.argv[2])
cap, seed, limit = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
langs = sys.argv[6:]
if langs == ["all"]:
    langs = sorted(p.stem for p in data_dir.glob("*.json"))

fx = yaml.safe_load(open(fixtures_path, encoding="utf-8"))


def entity_context(e):
    ctx = {"domain": e.get("domain") or e.get("id", "").split(".")[0]}
    dc = (e.get("attributes") or {}).get("device_class")
    if dc:
        ctx["device_class"] = dc
    return ctx


def plain(name):
    # Names written as templates (`Trader Joe[']s`) are expanded by Emma's fixtures
    # but taken literally by hassil with allow_template=False; leave them out.
    return not any(c in name for c in "[]()<>{}|")


runtime_lists = {
    "area": TextSlotList.from_tuples([(a["name"], a["name"]) for a in fx.get("areas", []) if plain(a["name"])], allow_template=False),
    "floor": TextSlotList.from_tuples([(f["name"], f["name"]) for f in fx.get("floors", []) if plain(f["name"])], allow_template=False),
    "name": TextSlotList.from_tuples(
        [(e["name"], e["name"], entity_context(e)) for e in fx.get("entities", []) if plain(e["name"])],
        allow_template=False),
}
FILLERS = ["pizza", "the news", "Bohemian Rhapsody", "milk", "jazz", "42", "tomorrow morning", "Anna"]


class Skip(Exception):
    pass


def wants(values, actual):
    if values is None:
        return True
    if isinstance(values, (list, tuple, set)):
        return actual in values
    return actual == values


def sample(expr, rng, lists, rules, data, engines, lang, slots):
    if isinstance(expr, TextChunk):
        return expr.original_text
    if isinstance(expr, Alternative):
        return sample(rng.choice(expr.items), rng, lists, rules, data, engines, lang, slots)
    if isinstance(expr, Permutation):
        items = list(expr.items)
        rng.shuffle(items)
        return normalize_whitespace("".join(sample(i, rng, lists, rules, data, engines, lang, slots) for i in items)).strip()
    if isinstance(expr, Sequence):
        return "".join(sample(i, rng, lists, rules, data, engines, lang, slots) for i in expr.items)
    if isinstance(expr, RuleReference):
        rule = rules.get(expr.rule_name)
        if rule is None:
            raise Skip()
        return sample(rule.expression, rng, lists, rules, data, engines, lang, slots)
    if isinstance(expr, ListReference):
        lst = lists.get(expr.list_name)
        if lst is None:
            raise Skip()
        if isinstance(lst, TextSlotList):
            values = lst.values
            req = data.requires_context or {}
            if expr.list_name == "name":
                # Names whose context the data block accepts, so the sample is in scope.
                ok = [v for v in values if all(
                    wants(req[k], (v.context or {}).get(k)) for k in ("domain", "device_class") if k in req)]
                values = ok or values
            if not values:
                raise Skip()
            v = rng.choice(values)
            return sample(v.text_in, rng, lists, rules, data, engines, lang, slots)
        if isinstance(lst, RangeSlotList):
            numbers = list(lst.get_numbers())
            n = rng.choice(numbers)
            words_lang = lst.words_language or lang
            if lst.words and rng.random() < 0.5:
                eng = engines.get(words_lang)
                if eng is None:
                    try:
                        eng = RbnfEngine.for_language(words_lang)
                    except Exception:
                        eng = False
                    engines[words_lang] = eng
                if eng:
                    try:
                        forms = sorted(set(eng.format_number(n).text_by_ruleset.values()))
                        if forms:
                            return rng.choice(forms)
                    except Exception:
                        pass
            if not lst.digits:
                raise Skip()
            return str(n)
        if isinstance(lst, WildcardSlotList):
            return rng.choice(FILLERS)
    raise Skip()


def value_json(v):
    if isinstance(v, (list, tuple)):
        return [value_json(x) for x in v]
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


out = {}
for lang in langs:
    t0 = time.perf_counter()
    with open(data_dir / f"{lang}.json", encoding="utf-8") as f:
        intents = Intents.from_dict(json.load(f))
    load_s = time.perf_counter() - t0
    lists = {**intents.slot_lists, **runtime_lists}
    rng = random.Random(f"{seed}:{lang}")
    engines = {}
    cases = []
    for intent in intents.intents.values():
        for data in intent.data:
            rules = {**intents.expansion_rules, **(data.expansion_rules or {})}
            local = {**lists, **(data.slot_lists or {})}
            context = {}
            for key, want in (data.requires_context or {}).items():
                if key == "area" and isinstance(want, dict):
                    context["area"] = fx["areas"][0]["name"]
            for sentence in data.sentences:
                seen = set()
                for _ in range(cap * 3):
                    if len(seen) >= cap:
                        break
                    try:
                        text = normalize_whitespace(sample(sentence.expression, rng, local, rules, data, engines, lang, {})).strip()
                    except (Skip, RecursionError):
                        break
                    if text and text not in seen:
                        seen.add(text)
                        cases.append({"text": text, "context": context, "template": sentence.text, "intent_expected": intent.name})
    if 0 < limit < len(cases):
        keep = sorted(rng.sample(range(len(cases)), limit))
        cases = [cases[i] for i in keep]
    t1, c1 = time.perf_counter(), time.thread_time()
    for c in cases:
        r = recognize_best(c["text"], intents, slot_lists=runtime_lists, intent_context=c["context"] or None,
                           language=lang, best_slot_name="name")
        if r is None:
            c["hassil"] = None
        else:
            c["hassil"] = {
                "intent": r.intent.name,
                "slots": {e.name: {"value": value_json(e.value), "text": e.text} for e in r.entities.values()},
                "response": r.response,
            }
    elapsed, cpu = time.perf_counter() - t1, time.thread_time() - c1
    out[lang] = {"load_s": load_s, "elapsed_s": elapsed, "cpu_s": cpu, "cases": cases}
    print(f"{lang}: {len(cases)} sentences, hassil {elapsed:.1f}s", file=sys.stderr)
json.dump(out, sys.stdout, ensure_ascii=False)
