"""Runs Emma's assistant on a WAV file and prints each event.

    bindings/scripts/generate.sh python target/emma-python
    PYTHONPATH=target/emma-python python3 examples/python/run_assistant.py command.wav [data dir] [--denoise]

Speech: PocketSphinx with Debian's en-us model, restricted to the grammar of
the assistant's intents (`--denoise`: cleaned with RNNoise first, for noisy
rooms). Any mono or stereo 16-bit WAV at any rate works (the
assistant resamples); stereo is mixed down here.
"""
import array
import asyncio
import atexit
import sys
import tempfile
import wave

from emma import Assistant, AssistantConfig, EventListener, SpeechConfig, SpeechEngine, wait_for_callbacks

# Before Python exits, let Emma's threads return from this script's code (an
# async call's completion, the listener): CPython ends a thread that wants the
# GIL back while it finalizes, and that aborts the process.
atexit.register(wait_for_callbacks, 2000)


class PrintEvents(EventListener):
    def on_event(self, event):
        print(f"event: {event}", flush=True)


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: {8 * w.getsampwidth()}-bit samples; convert it to 16-bit (sox in.wav -b 16 out.wav)")
        samples = array.array("h", w.readframes(w.getnframes()))
        channels = w.getnchannels()
        if channels > 1:
            samples = array.array("h", (sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)))
        return list(samples), w.getframerate()


async def main(wav, data_dir, denoise):
    samples, rate = read_wav(wav)
    speech = SpeechConfig(
        engine=SpeechEngine.POCKET_SPHINX,
        model="/usr/share/pocketsphinx/model/en-us",
        model_language="en",
        denoise=denoise,
    )
    assistant = Assistant(AssistantConfig(data_dir=data_dir, language="en", speech=speech))
    assistant.add_listener(PrintEvents())
    await assistant.start()
    try:
        chunk = rate // 10  # feed 100 ms at a time, as a microphone would
        for i in range(0, len(samples), chunk):
            assistant.process_audio(samples[i:i + chunk], rate)
        for turn in await assistant.end_audio():
            print(f"turn: heard {turn.heard!r} -> {turn.reply!r}", flush=True)
    finally:
        await assistant.stop()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--denoise"]
    if not args:
        sys.exit("usage: run_assistant.py FILE.wav [DATA_DIR] [--denoise]")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args[0], args[1] if len(args) > 1 else tmp, "--denoise" in sys.argv[1:]))
