// The assistant from Kotlin: text → intent → reply with a device command that
// reaches the embedded broker; a request for a person, touchpoint reports with consent;
// a skill's order proposal confirmed by the customer.
// Arguments: <data dir> <coffee bundle> <publisher public key file>
@file:JvmName("AssistantTest")

package emma.tests

import emma.Assistant
import emma.AssistantConfig
import emma.AssistantEvent
import emma.DeviceInfo
import emma.OrderState
import java.io.File
import kotlinx.coroutines.runBlocking

fun main(args: Array<String>) = runBlocking {
    val (dataDir, bundle, keyFile) = args
    val coffee = "com.example.coffee"

    // Install the coffee skill into the assistant's data dir before it starts.
    val assistant = Assistant(AssistantConfig(dataDir = dataDir, language = "en", homeId = "home-kt"))
    val skills = assistant.skills()
    skills.trustPublisher(File(keyFile).readText())
    skills.install(bundle, listOf("store", "order:propose", "device:coffee.*:control"), false)

    val events = Collector()
    assistant.addListener(events)
    assistant.start()
    check(assistant.isRunning())
    val broker = assistant.brokerAddress() ?: error("no embedded broker address")
    check(assistant.intents()[coffee]?.contains("OrderDrink") == true) { "intents: ${assistant.intents()}" }

    assistant.addDevice(DeviceInfo(id = "light.kitchen_lamp", name = "kitchen lamp", domain = "light"))
    assistant.addDevice(DeviceInfo(id = "coffee.machine", name = "coffee machine", domain = "switch"))
    check(assistant.devices().map { it.id }.toSet() == setOf("light.kitchen_lamp", "coffee.machine")) {
        "devices: ${assistant.devices()}"
    }

    MqttWatch(broker, "emma/device/+/set").use { mqtt ->
        // Text → intent → built-in handler → device command on the broker → reply.
        val turn = assistant.processText("turn on the kitchen lamp")
        check(turn.intent?.name == "HassTurnOn") { "turn: $turn" }
        check(turn.commands.map { it.device } == listOf("light.kitchen_lamp")) { "commands: ${turn.commands}" }
        check(turn.reply.isNotBlank()) { "empty reply" }
        check(mqtt.next("emma/device/light.kitchen_lamp/set").contains("on", ignoreCase = true))
        events.await("intent event") { (it as? AssistantEvent.Intent)?.intent?.takeIf { i -> i.name == "HassTurnOn" } }
        events.await("device command event") { (it as? AssistantEvent.DeviceCommand)?.takeIf { c -> c.device == "light.kitchen_lamp" } }
        events.await("reply event") { (it as? AssistantEvent.Reply)?.takeIf { r -> r.text == turn.reply } }

        // Direct control from the app.
        val sent = assistant.controlDevice("light.kitchen_lamp", "brightness=40")
        check(sent.size == 1 && sent[0].device == "light.kitchen_lamp") { "sent: $sent" }
        check(mqtt.next("emma/device/light.kitchen_lamp/set").contains("40"))
    }

    // The conversation thread completed a suspend call above, so it stays attached to the JVM
    // (bindings/src/jvm.rs): every listener call of later turns comes from one daemon Java
    // thread, not from a new Thread that JNA attaches and detaches around each callback.
    val threads = ThreadRecorder()
    assistant.addListener(threads)
    repeat(3) { assistant.processText("turn off the kitchen lamp") }
    check(threads.calls.get() >= 6) { "listener calls: ${threads.calls.get()}" }
    check(threads.seen.size == 1 && threads.seen.single().isDaemon) {
        "listener threads over ${threads.calls.get()} calls: ${threads.seen.map { "${it.name} daemon=${it.isDaemon}" }}"
    }

    // A person at the brand, touchpoints: the home id, "did that help?", aggregates only with consent.
    check(assistant.homeId() == "home-kt") { "home id: ${assistant.homeId()}" }
    val asked = assistant.processText("I want to talk to a person")
    check(asked.intent?.name == "EmmaTalkToPerson") { "turn: $asked" }
    events.await("handoff event") { it as? AssistantEvent.Handoff }
    check(assistant.reportTouchpoints().isEmpty()) { "no consent: nothing leaves the home" }
    val control = assistant.customerControl()
    control.grant("emma", "touchpoints", "help Emma's makers improve it", null)
    assistant.processText("connect me to a human")
    check(assistant.rateLatestInteraction(true))
    val reports = assistant.reportTouchpoints()
    check(reports.map { it.brand } == listOf("emma")) { "reports: $reports" }
    val stats = reports[0].stats.map { listOf(it.intent, it.count, it.handoffs, it.satisfactionPositive) }
    check(stats == listOf(listOf("EmmaTalkToPerson", 1uL, 1uL, 1uL))) { "stats: $stats" }

    // Text → intent → skill → reply.
    val drink = assistant.processText("make me a latte")
    check(drink.intent?.name == "OrderDrink" && drink.handledBy == coffee) { "turn: $drink" }
    check(drink.reply.isNotBlank())

    // Proactive features are opt-in: the customer lets the skill act on device events.
    control.grant(coffee, "proactive", "reorder beans when they run low", null)
    control.grant(coffee, "device-usage", "see the bean level", null)

    // The machine reports low beans; the skill proposes an order; the customer confirms it.
    MqttWatch.publish(broker, "emma/device/coffee.machine/state", """{"state":"idle","bean_level":12}""")
    val proposal = events.await("order proposal") { it as? AssistantEvent.Proposal }
    check(proposal.skill == coffee && proposal.lines.isNotEmpty()) { "proposal: $proposal" }
    check(skills.orders().single { it.id == proposal.id }.state == OrderState.PENDING)
    val confirmed = skills.confirmOrder(proposal.id)
    check(confirmed.state == OrderState.CONFIRMED) { "confirmed: $confirmed" }
    check(skills.orders().single { it.id == proposal.id }.state == OrderState.CONFIRMED)

    assistant.stop()
    check(!assistant.isRunning())
    assistant.close()
    println("kotlin assistant: ok")
}
