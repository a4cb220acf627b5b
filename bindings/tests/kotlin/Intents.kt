// Intents from Kotlin: parse sentences against templates, and the errors a bad template gives.
@file:JvmName("IntentsTest")

package emma.tests

import emma.EmmaException
import emma.IntentParser

const val TEMPLATES = """
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

fun main() {
    val parser = IntentParser.fromYaml(TEMPLATES, "test.yaml", "en")
    check(parser.language() == "en")
    check(parser.intentNames().sorted() == listOf("OrderDrink", "SetTimer")) { "names: ${parser.intentNames()}" }

    val timer = parser.parse("set a timer for five minutes") ?: error("no intent for the timer sentence")
    check(timer.name == "SetTimer") { "got ${timer.name}" }
    check(timer.slots["minutes"] == "5") { "slots: ${timer.slots}" }
    check(timer.confidence > 0.5f) { "confidence ${timer.confidence}" }

    val drink = parser.parse("make me a latte") ?: error("no intent for the drink sentence")
    check(drink.name == "OrderDrink" && drink.slots["drink"] == "latte") { "got $drink" }

    check(parser.parse("what is the weather on mars") == null) { "an unrelated sentence matched" }

    // A template error is a typed exception whose message names the file.
    try {
        IntentParser.fromYaml("language: en\nintents:\n  X:\n    data:\n      - sentences: [\"{nolist}\"]\n", "broken.yaml", "en")
        error("a template using an undefined list was accepted")
    } catch (e: EmmaException.Intents) {
        check(e.message!!.contains("broken.yaml")) { "message does not name the file: ${e.message}" }
    }
    try {
        IntentParser.fromPath("/nonexistent/intents", "en")
        error("a missing path was accepted")
    } catch (e: EmmaException.Intents) {
        check(e.message!!.contains("/nonexistent/intents")) { "message does not name the path: ${e.message}" }
    }
    println("kotlin intents: ok")
}
