// Customer control and device watches from Kotlin: a watch receives the coffee
// machine's reports; the bean report reaches the coffee skill only after the
// customer opted it in; consents, the ledger (read, verify), export and erase;
// bad input is a typed exception.
// Arguments: <data dir> <coffee bundle> <publisher public key file> <scratch dir>
@file:JvmName("PrivacyTest")

package emma.tests

import emma.Assistant
import emma.AssistantConfig
import emma.AssistantEvent
import emma.DeviceEventInfo
import emma.DeviceEventKind
import emma.DeviceInfo
import emma.DeviceListener
import emma.EmmaException
import emma.LedgerVerification
import java.io.File
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking

/** Collects the device events of a watch. */
class DeviceEvents : DeviceListener {
    val events = LinkedBlockingQueue<DeviceEventInfo>()
    override fun onDeviceEvent(event: DeviceEventInfo) {
        events.add(event)
    }

    fun next(seconds: Long = 20): DeviceEventInfo =
        events.poll(seconds, TimeUnit.SECONDS) ?: error("no device event within $seconds s")
}

fun main(args: Array<String>) = runBlocking {
    val (dataDir, bundle, keyFile, scratch) = args
    val coffee = "com.example.coffee"

    val assistant = Assistant(AssistantConfig(dataDir = dataDir, language = "en"))
    val skills = assistant.skills()
    skills.trustPublisher(File(keyFile).readText())
    skills.install(bundle, listOf("store", "order:propose", "device:coffee.*:control"), false)
    val events = Collector()
    assistant.addListener(events)
    assistant.start()
    val broker = assistant.brokerAddress() ?: error("no embedded broker address")
    assistant.addDevice(DeviceInfo(id = "coffee.machine", name = "coffee machine", domain = "switch"))
    assistant.addDevice(DeviceInfo(id = "light.hall", name = "hall light", domain = "light"))
    val control = assistant.customerControl()

    // A watch on the coffee devices sees the machine's reports and nothing of the light.
    val seen = DeviceEvents()
    val watch = assistant.watchDevices("coffee.*", seen)
    check(watch.isActive())
    // A listener that throws is logged; its watch and the others go on.
    val throwing = assistant.watchDevices("*", object : DeviceListener {
        override fun onDeviceEvent(event: DeviceEventInfo) = throw IllegalStateException("listener bug")
    })
    MqttWatch.publish(broker, "emma/device/light.hall/state", """{"state":"on"}""")
    MqttWatch.publish(broker, "emma/device/coffee.machine/state", """{"state":"idle","bean_level":12}""")
    val report = seen.next()
    check(report.device == "coffee.machine" && report.kind == DeviceEventKind.STATE_CHANGED) { "report: $report" }
    check(report.state == "idle" && report.attributesJson.contains("\"bean_level\":12")) { "report: $report" }

    // Not opted in to proactive features: the skill is not called, nothing is proposed.
    // (A turn queued behind the report returns only after the report was handled.)
    Thread.sleep(300)
    check(assistant.processText("purple elephants sing").commands.isEmpty())
    Thread.sleep(500)
    check(events.seen.none { it is AssistantEvent.Proposal }) { "proposal without opt-in: ${events.seen}" }
    check(!control.allows(coffee, "proactive"))

    // The customer opts in while the assistant runs: the next report reaches the skill.
    control.grant(coffee, "proactive", "reorder beans when they run low", null)
    control.grant(coffee, "device-usage", "see the bean level", null)
    check(control.consents(coffee).count { it.revokedMs == null } == 2) { "consents: ${control.consents(coffee)}" }
    check(control.allows(coffee, "proactive"))
    MqttWatch.publish(broker, "emma/device/coffee.machine/state", """{"state":"idle","bean_level":11}""")
    val proposal = events.await("order proposal") { it as? AssistantEvent.Proposal }
    check(proposal.skill == coffee)
    check(seen.next().attributesJson.contains("\"bean_level\":11"))

    // The ledger names the share and the stored proposal, never a value, and verifies.
    val ledger = control.ledger(coffee, null, null)
    check(ledger.any { it.action == "share" && it.category == "device-usage" && it.field == "coffee.machine" && it.reason == "event:bean-level" && it.consent != null }) { "ledger: $ledger" }
    check(ledger.any { it.action == "store" && it.category == "orders" && it.field == proposal.id }) { "ledger: $ledger" }
    check(control.ledger(null, null, 3u).size == 3)
    val verified = control.verifyLedger()
    check(verified is LedgerVerification.Intact && verified.entries >= ledger.size.toULong()) { "verify: $verified" }

    // Revoked: in effect on the next report.
    check(control.revoke(coffee, "proactive").single().category == "proactive")
    check(!control.allows(coffee, "proactive"))

    // Bad input: typed exceptions that name the problem; a failed export writes nothing.
    try {
        control.grant("no.such.skill", "orders", "x", null)
        error("a consent for an unknown skill was accepted")
    } catch (e: EmmaException.InvalidInput) {
        check(e.message!!.contains("no.such.skill")) { "message: ${e.message}" }
    }
    try {
        control.grant(coffee, "recordings", "x", null)
        error("an unknown category was accepted")
    } catch (e: EmmaException.InvalidInput) {
        check(e.message!!.contains("recordings")) { "message: ${e.message}" }
    }
    val nowhere = File(scratch, "missing-dir/export.json")
    try {
        control.export(nowhere.path)
        error("an export into a missing directory succeeded")
    } catch (e: EmmaException.InvalidInput) {
        check(!nowhere.exists())
    }

    check(throwing.isActive())
    watch.cancel()
    throwing.cancel()
    assistant.stop()
    try {
        assistant.watchDevices("*", seen)
        error("a watch on a stopped assistant was accepted")
    } catch (e: EmmaException.NotRunning) {
        check(e.message!!.contains("start")) { "message: ${e.message}" }
    }

    // Export holds the customer's data; erase removes it and the ledger says so.
    val out = File(scratch, "export.json")
    val summary = control.export(out.path)
    check(summary.bytes == out.length().toULong() && (summary.counts["orders"] ?: 0uL) >= 1uL) { "summary: $summary" }
    val text = out.readText()
    check(text.contains("BEANS-HOUSE-1KG") && text.contains("\"format\": \"emma-customer-export\"")) { "export: ${text.take(400)}" }
    val erased = control.erase()
    check(erased.rows > 0uL && erased.stores.isNotEmpty()) { "erase: $erased" }
    check(skills.orders().isEmpty()) { "orders after erase: ${skills.orders()}" }
    check(control.ledger(null, null, 1u).single().action == "erase")
    check(control.verifyLedger() is LedgerVerification.Intact)
    assistant.close()
    println("kotlin privacy: ok")
}
