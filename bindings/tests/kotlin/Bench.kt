// Per-call cost from Kotlin, run by `cargo bench -p emma-bindings --bench ffi_overhead`.
// Arguments: <data dir> <trivial calls> <processText calls> <sentence>
// Prints `trivial_ns=… start_again_ns=… process_text_ns=… process_text_median_ns=…
// blocking_ns=… blocking_median_ns=… generated_lower_ns=… generated_read_ns=… peak_rss_kib=…`
// (start_again: `start` on a started assistant, a trivial suspend call, 10 × processText
// calls; processText and processTextBlocking: mean and median of the timed calls;
// generated_*: the generated code's own work in a processTextBlocking call, timed alone,
// see `generatedParts`).
@file:JvmName("BenchMain")

package emma.tests

import emma.Assistant
import emma.AssistantConfig
import emma.FfiConverterString
import emma.FfiConverterTypeTurn
import emma.RustBuffer
import emma.Turn
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
    // A trivial suspend call: start on a started assistant does nothing.
    val starts = texts * 10
    repeat(starts / 10) { assistant.start() }
    t0 = System.nanoTime()
    repeat(starts) { assistant.start() }
    val startNs = (System.nanoTime() - t0).toDouble() / starts
    val (textNs, medianNs) = meanAndMedian(texts) { assistant.processText(sentence) }
    // The blocking form, from this (worker-like) thread.
    val (blockingNs, blockingMedianNs) = meanAndMedian(texts) { assistant.processTextBlocking(sentence) }
    val (lowerNs, readNs) = generatedParts(assistant.processTextBlocking(sentence), sentence, trivial / 10)
    assistant.stop()
    check(running == 2 * trivial)
    val hwm = File("/proc/self/status").readLines().first { it.startsWith("VmHWM:") }.filter { it.isDigit() }
    println("trivial_ns=$trivialNs start_again_ns=$startNs process_text_ns=$textNs process_text_median_ns=$medianNs " +
        "blocking_ns=$blockingNs blocking_median_ns=$blockingMedianNs " +
        "generated_lower_ns=$lowerNs generated_read_ns=$readNs peak_rss_kib=$hwm")
}

/**
 * What uniffi's generated code does around the Rust call of processTextBlocking besides
 * what a trivial call does (clone the object's handle, call), each timed alone: lowering
 * the sentence into a Rust buffer (freed here with one more FFI call, as Rust frees it in
 * a real call) and reading the returned Turn record out of its buffer (in place, not freed).
 */
fun generatedParts(turn: Turn, sentence: String, n: Int): Pair<Double, Double> {
    repeat(n) { RustBuffer.free(FfiConverterString.lower(sentence)) } // warm-up (JIT)
    var t0 = System.nanoTime()
    repeat(n) { RustBuffer.free(FfiConverterString.lower(sentence)) }
    val lowerNs = (System.nanoTime() - t0).toDouble() / n
    val buf = FfiConverterTypeTurn.lower(turn)
    var read: Turn? = null
    try {
        repeat(n) { read = FfiConverterTypeTurn.read(buf.asByteBuffer()!!) }
        t0 = System.nanoTime()
        repeat(n) { read = FfiConverterTypeTurn.read(buf.asByteBuffer()!!) }
    } finally {
        RustBuffer.free(buf)
    }
    val readNs = (System.nanoTime() - t0).toDouble() / n
    check(read == turn) { "read $read, not $turn" }
    return Pair(lowerNs, readNs)
}

/** Mean and median in ns of `n` timed calls of `call`, after `n / 10 + 1` untimed ones. */
inline fun meanAndMedian(n: Int, call: () -> Unit): Pair<Double, Long> {
    repeat(n / 10 + 1) { call() }
    val each = LongArray(n) {
        val t = System.nanoTime()
        call()
        System.nanoTime() - t
    }
    return Pair(each.sum().toDouble() / n, each.sorted()[n / 2])
}
