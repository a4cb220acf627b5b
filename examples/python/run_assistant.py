"""Runs Emma's assistant on a WAV file and prints each event.

    bindings/scripts/generate.sh python target/emma-python
    PYTHONPATH=target/emma-python python3 examples/python/run_assistant.py command.wav [data dir] [--denoise] [--moonshine MODEL_DIR]

Speech: PocketSphinx with Debian's en-us model, restricted to the grammar of
the assistant's intents (`--denoise`: cleaned with RNNoise first, for noisy
rooms; `--moonshine ~/.local/share/emma/models/moonshine-base-en`: each
command also checked against Moonshine's transcript, with RNNoise, as
`emma run` hears where `scripts/setup` installed Moonshine). Any mono or stereo 16-bit WAV at any rate works (the
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


async def main(wav, data_dir, denoise, moonshine):
    samples, rate = read_wav(wav)
    speech = SpeechConfig(
        engine=SpeechEngine.POCKET_SPHINX,
        model="/usr/share/pocketsphinx/model/en-us",
        model_language="en",
        # Moonshine checks each command (as `emma run` hears where it is installed).
        agreement_model=moonshine,
        denoise=denoise or moonshine is not None,
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


USAGE = "usage: run_assistant.py FILE.wav [DATA_DIR] [--denoise] [--moonshine MODEL_DIR]"

if __name__ == "__main__":
    args, denoise, moonshine = [], False, None
    rest = iter(sys.argv[1:])
    for a in rest:
        if a == "--denoise":
            denoise = True
        elif a == "--moonshine":
            moonshine = next(rest, None) or sys.exit(USAGE)
        else:
            args.append(a)
    if not args:
        sys.exit(USAGE)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args[0], args[1] if len(args) > 1 else tmp, denoise, moonshine))
