"""Intents from Python: parse sentences against templates, and the errors a bad template gives."""
from emma import EmmaError, IntentParser

TEMPLATES = """
language: en
intents:
  SetTimer:
    data:
      - sentences:
          - "set a timer for {minutes} minutes"
  OrderDrink:
    data:
      - sentences:
          - "[i'd like | make me] a {drink}"
lists:
  minutes:
    range:
      from: 1
      to: 60
  drink:
    values: [latte, espresso]
"""

parser = IntentParser.from_yaml(TEMPLATES, "test.yaml", "en")
assert parser.language() == "en"
assert sorted(parser.intent_names()) == ["OrderDrink", "SetTimer"], parser.intent_names()

timer = parser.parse("set a timer for five minutes")
assert timer is not None, "no intent for the timer sentence"
assert timer.name == "SetTimer", timer
assert timer.slots["minutes"] == "5", timer.slots
assert timer.confidence > 0.5, timer.confidence

drink = parser.parse("make me a latte")
assert drink is not None and drink.name == "OrderDrink" and drink.slots["drink"] == "latte", drink

assert parser.parse("what is the weather on mars") is None, "an unrelated sentence matched"

try:
    IntentParser.from_yaml('language: en\nintents:\n  X:\n    data:\n      - sentences: ["{nolist}"]\n', "broken.yaml", "en")
    raise AssertionError("a template using an undefined list was accepted")
except EmmaError.Intents as e:
    assert "broken.yaml" in str(e), str(e)
try:
    IntentParser.from_path("/nonexistent/intents", "en")
    raise AssertionError("a missing path was accepted")
except EmmaError.Intents as e:
    assert "/nonexistent/intents" in str(e), str(e)

print("python intents: ok")
