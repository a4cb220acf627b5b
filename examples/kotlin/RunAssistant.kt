// Runs Emma's assistant on a WAV file and prints each event.
//
//   bindings/scripts/generate.sh kotlin target/emma-kotlin
//   examples/kotlin/run.sh command.wav [data dir]
//
// Speech: PocketSphinx with Debian's en-us model, restricted to the grammar of
// the assistant's intents. 16-bit WAV at any rate (the assistant resamples).
@file:JvmName("RunAssistant")

package emma.examples

import emma.Assistant
import emma.AssistantConfig
import emma.AssistantEvent
import emma.EventListener
import emma.SpeechConfig
import emma.SpeechEngine
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import javax.sound.sampled.AudioFormat
import javax.sound.sampled.AudioSystem
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking

class PrintEvents : EventListener {
    override fun onEvent(event: AssistantEvent) {
        println("event: $event")
    }
}

/** Mono 16-bit samples and their rate. */
fun readWav(path: String): Pair<List<Short>, UInt> {
    val stream = AudioSystem.getAudioInputStream(File(path))
    val f = stream.format
    val pcm = AudioSystem.getAudioInputStream(
        AudioFormat(AudioFormat.Encoding.PCM_SIGNED, f.sampleRate, 16, f.channels, 2 * f.channels, f.sampleRate, false),
        stream,
    )
    val bytes = ByteBuffer.wrap(pcm.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer()
    val all = ShortArray(bytes.remaining()).also { bytes.get(it) }
    val mono = List(all.size / f.channels) { i -> (0 until f.channels).sumOf { all[i * f.channels + it].toInt() }.div(f.channels).toShort() }
    return mono to f.sampleRate.toUInt()
}

fun main(args: Array<String>) = runBlocking {
    if (args.isEmpty()) {
        System.err.println("usage: RunAssistant FILE.wav [DATA_DIR]")
        exitProcess(2)
    }
    val (samples, rate) = readWav(args[0])
    val dataDir = args.getOrNull(1) ?: kotlin.io.path.createTempDirectory("emma").toString()
    val speech = SpeechConfig(engine = SpeechEngine.POCKET_SPHINX, model = "/usr/share/pocketsphinx/model/en-us", modelLanguage = "en")
    val assistant = Assistant(AssistantConfig(dataDir = dataDir, language = "en", speech = speech))
    assistant.addListener(PrintEvents())
    assistant.start()
    try {
        val chunk = (rate / 10u).toInt() // 100 ms at a time, as a microphone would deliver
        for (start in samples.indices step chunk) {
            assistant.processAudio(samples.subList(start, minOf(start + chunk, samples.size)), rate)
        }
        for (turn in assistant.endAudio()) println("turn: heard \"${turn.heard}\" -> \"${turn.reply}\"")
    } finally {
        assistant.stop()
        assistant.close()
    }
}
