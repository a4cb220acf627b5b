// Bad input from Kotlin: every misuse ends in a typed exception or a clean
// no-op, never a crash of the JVM. Argument: <data dir>
@file:JvmName("BadInputTest")

package emma.tests

import emma.Assistant
import emma.AssistantConfig
import emma.AssistantEvent
import emma.EmmaException
import emma.EventListener
import emma.SpeechConfig
import emma.SpeechEngine
import emma.Turn
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

fun main(args: Array<String>) = runBlocking {
    val dataDir = args[0]

    // Invalid configs: the message names the field.
    try {
        Assistant(AssistantConfig(dataDir = dataDir, language = "fr"))
        error("language fr was accepted")
    } catch (e: EmmaException.Config) {
        check(e.message!!.contains("language")) { "message: ${e.message}" }
    }
    try {
        Assistant(AssistantConfig(dataDir = dataDir, confidenceThreshold = 1.5f))
        error("a confidence threshold of 1.5 was accepted")
    } catch (e: EmmaException.Config) {
        check(e.message!!.contains("confidence_threshold")) { "message: ${e.message}" }
    }

    // A Moonshine model that is not there: a typed error naming the directory.
    val missing = "/nonexistent/agreement/moonshine-base-en"
    try {
        val speech = SpeechConfig(
            engine = SpeechEngine.POCKET_SPHINX,
            model = "/usr/share/pocketsphinx/model/en-us",
            modelLanguage = "en",
            agreementModel = missing,
        )
        Assistant(AssistantConfig(dataDir = dataDir, loadSkills = false, speech = speech)).start()
        error("a missing agreement model was accepted")
    } catch (e: EmmaException.Speech) {
        check(e.message!!.contains(missing)) { "message: ${e.message}" }
    }

    val assistant = Assistant(AssistantConfig(dataDir = dataDir, loadSkills = false))
    // Calls before start: typed errors that say what to do.
    try {
        assistant.processText("turn on the kitchen lamp")
        error("processText ran on an assistant that was never started")
    } catch (e: EmmaException.NotRunning) {
        check(e.message!!.contains("start")) { "message: ${e.message}" }
    }
    try {
        assistant.devices()
        error("devices() answered on a stopped assistant")
    } catch (_: EmmaException.NotRunning) {
    }
    try {
        assistant.endAudio()
        error("endAudio() answered on a stopped assistant")
    } catch (_: EmmaException.NotRunning) {
    }
    try {
        assistant.calibrateSpeech(null)
        error("calibrateSpeech() answered on a stopped assistant")
    } catch (_: EmmaException.NotRunning) {
    }

    // A listener that throws does not stop the pipeline or other listeners.
    val events = Collector()
    assistant.addListener(ThrowingListener())
    assistant.addListener(events)
    assistant.start()
    assistant.start() // starting twice is a no-op
    val turn = assistant.processText("what is the meaning of life")
    check(turn.intent == null) { "an unrelated sentence was acted on: $turn" }
    events.await("not-understood event") { it as? AssistantEvent.NotUnderstood }

    // The blocking form answers on the calling thread (a worker thread's call).
    val blocking = withContext(Dispatchers.IO) { assistant.processTextBlocking("what is the meaning of life") }
    check(blocking.intent == null && blocking.reply.isNotEmpty()) { "blocking turn: $blocking" }
    // Called from inside a listener (the assistant's own thread) it is refused, not a deadlock.
    val refused = java.util.concurrent.CopyOnWriteArrayList<String>()
    assistant.addListener(object : EventListener {
        override fun onEvent(event: AssistantEvent) {
            if (event is AssistantEvent.Reply && refused.isEmpty()) {
                try {
                    assistant.processTextBlocking("turn on the kitchen lamp")
                    refused.add("no error")
                } catch (e: EmmaException.WrongThread) {
                    refused.add(e.message ?: "")
                }
            }
        }
    })
    // On a daemon thread with a deadline: a deadlock fails the test instead of hanging it.
    val answered = java.util.concurrent.CompletableFuture<Turn>()
    Thread {
        try {
            answered.complete(assistant.processTextBlocking("what is the meaning of life"))
        } catch (e: Throwable) {
            answered.completeExceptionally(e)
        }
    }
        .apply { isDaemon = true }
        .start()
    val reply = try {
        answered.get(20, java.util.concurrent.TimeUnit.SECONDS)
    } catch (_: java.util.concurrent.TimeoutException) {
        error("the turn did not come back within 20 s: the listener's call deadlocked")
    }
    check(reply.intent == null) { "an unrelated sentence was acted on: $reply" }
    check(refused.size == 1 && refused[0].contains("another thread")) { "listener's call: $refused" }

    // Audio to a text-only assistant: typed error naming what to configure.
    try {
        assistant.processAudio(List(1600) { 0.toShort() }, 16000u)
        error("audio was accepted by a text-only assistant")
    } catch (e: EmmaException.Speech) {
        check(e.message!!.contains("speech")) { "message: ${e.message}" }
    }

    // Many threads at once, and a stop in the middle: each call returns a turn or NotRunning.
    val ok = AtomicInteger()
    val notRunning = AtomicInteger()
    val calls = (0 until 64).map { i ->
        async(Dispatchers.IO) {
            try {
                assistant.processText(if (i % 2 == 0) "turn on the kitchen lamp" else "hello there")
                assistant.isRunning()
                ok.incrementAndGet()
            } catch (_: EmmaException.NotRunning) {
                notRunning.incrementAndGet()
            }
        }
    }
    val stopper = async(Dispatchers.IO) { Thread.sleep(20); assistant.stop() }
    (calls + stopper).awaitAll()
    check(ok.get() + notRunning.get() == 64) { "ok ${ok.get()} + not running ${notRunning.get()} != 64" }
    assistant.stop() // stopping twice is a no-op
    try {
        assistant.processText("turn on the kitchen lamp")
        error("processText ran on a stopped assistant")
    } catch (_: EmmaException.NotRunning) {
    }

    // Closing the object while a call is in flight: the call finishes, later calls fail cleanly.
    assistant.start()
    val inFlight = async(Dispatchers.IO) { runCatching { assistant.processText("turn off the kitchen lamp") } }
    assistant.close()
    inFlight.await()
    try {
        assistant.isRunning()
        error("a closed assistant answered")
    } catch (_: IllegalStateException) {
    }
    println("kotlin bad input: ok (${ok.get()} turns, ${notRunning.get()} not running)")
}
