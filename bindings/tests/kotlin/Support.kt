// Helpers shared by the Kotlin test programs: an event collector and an MQTT
// watcher (mosquitto_sub) that proves commands reached the broker.
package emma.tests

import emma.AssistantEvent
import emma.EventListener
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/** Collects every event the assistant reports. */
class Collector : EventListener {
    val events = LinkedBlockingQueue<AssistantEvent>()
    val seen = java.util.Collections.synchronizedList(mutableListOf<AssistantEvent>())

    override fun onEvent(event: AssistantEvent) {
        seen.add(event)
        events.add(event)
    }

    /** The first event `pick` accepts within `seconds`, or a failed check naming what was seen. */
    fun <T : Any> await(what: String, seconds: Long = 20, pick: (AssistantEvent) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            val left = deadline - System.nanoTime()
            check(left > 0) { "no $what within $seconds s; events: $seen" }
            val e = events.poll(left, TimeUnit.NANOSECONDS) ?: continue
            pick(e)?.let { return it }
        }
    }
}

/** Records which Java threads deliver events (by identity: JNA attaching anew gives a new `Thread`). */
class ThreadRecorder : EventListener {
    val seen: MutableSet<Thread> = java.util.Collections.synchronizedSet(
        java.util.Collections.newSetFromMap(java.util.IdentityHashMap<Thread, Boolean>())
    )
    val calls = java.util.concurrent.atomic.AtomicInteger()

    override fun onEvent(event: AssistantEvent) {
        calls.incrementAndGet()
        seen.add(Thread.currentThread())
    }
}

/** A listener that always throws: the assistant must carry on. */
class ThrowingListener : EventListener {
    override fun onEvent(event: AssistantEvent) {
        throw IllegalStateException("listener bug")
    }
}

/** `mosquitto_sub` on the assistant's broker, printing `topic payload` lines. */
class MqttWatch(address: String, vararg topics: String) : AutoCloseable {
    private val host = address.substringBeforeLast(':')
    private val port = address.substringAfterLast(':')
    private val lines = LinkedBlockingQueue<String>()
    private val proc: Process = ProcessBuilder(
        listOf("mosquitto_sub", "-h", host, "-p", port, "-v", "-t", "emma/test/probe") +
            topics.flatMap { listOf("-t", it) }
    ).redirectErrorStream(true).start()

    init {
        Thread { proc.inputStream.bufferedReader().forEachLine { lines.add(it) } }.apply { isDaemon = true }.start()
        // Subscribed once a probe comes back (mosquitto_sub has no "ready" signal).
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        while (true) {
            check(System.nanoTime() < deadline) { "mosquitto_sub never received its probe on $address" }
            publish(address, "emma/test/probe", "probe")
            if (lines.poll(200, TimeUnit.MILLISECONDS)?.startsWith("emma/test/probe") == true) break
        }
    }

    /** The next line on `topicPrefix` within `seconds`. */
    fun next(topicPrefix: String, seconds: Long = 20): String {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            val left = deadline - System.nanoTime()
            check(left > 0) { "nothing on $topicPrefix within $seconds s" }
            val line = lines.poll(left, TimeUnit.NANOSECONDS) ?: continue
            if (line.startsWith(topicPrefix)) return line
        }
    }

    override fun close() {
        proc.destroy()
    }

    companion object {
        fun publish(address: String, topic: String, payload: String) {
            val p = ProcessBuilder(
                "mosquitto_pub", "-h", address.substringBeforeLast(':'), "-p", address.substringAfterLast(':'),
                "-q", "1", "-t", topic, "-m", payload
            ).redirectErrorStream(true).start()
            check(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0) {
                "mosquitto_pub failed: ${p.inputStream.bufferedReader().readText()}"
            }
        }
    }
}
