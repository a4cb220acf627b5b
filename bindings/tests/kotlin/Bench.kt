// Per-call cost from Kotlin, run by `cargo bench -p emma-bindings --bench ffi_overhead`.
// Arguments: <data dir> <trivial calls> <processText calls> <sentence>
// Prints `trivial_ns=… process_text_ns=… peak_rss_kib=…`.
@file:JvmName("BenchMain")

package emma.tests

import emma.Assistant
import emma.AssistantConfig
import java.io.File
import kotlinx.coroutines.runBlocking

fun main(args: Array<String>) = runBlocking {
    val dataDir = args[0]
    val trivial = args[1].toInt()
    val texts = args[2].toInt()
    val sentence = args[3]
    val assistant = Assistant(AssistantConfig(dataDir = dataDir, loadSkills = false))
    assistant.start()
    var running = 0
    repeat(trivial) { if (assistant.isRunning()) running++ } // warm-up (JIT)
    var t0 = System.nanoTime()
    repeat(trivial) { if (assistant.isRunning()) running++ }
    val trivialNs = (System.nanoTime() - t0).toDouble() / trivial
    repeat(texts / 10 + 1) { assistant.processText(sentence) }
    t0 = System.nanoTime()
    repeat(texts) { assistant.processText(sentence) }
    val textNs = (System.nanoTime() - t0).toDouble() / texts
    assistant.stop()
    check(running == 2 * trivial)
    val hwm = File("/proc/self/status").readLines().first { it.startsWith("VmHWM:") }.filter { it.isDigit() }
    println("trivial_ns=$trivialNs process_text_ns=$textNs peak_rss_kib=$hwm")
}
