"""Talks to `emma wyoming serve` with the reference Wyoming client (PyPI `wyoming`).

Run by cli/tests/wyoming_cli.rs with the venv scripts/setup creates
($EMMA_HOME/venv/wyoming). Prints one JSON object per line, one per request;
the Rust test asserts on them, so this script only reports what it saw.

    python wyoming_client.py URI describe
    python wyoming_client.py URI transcribe WAV [WAV...]   (concurrently, one connection each)
    python wyoming_client.py URI recognize TEXT
    python wyoming_client.py URI handle TEXT
    python wyoming_client.py URI handle-intent TEXT         (recognize, then handle that intent)
    python wyoming_client.py URI handle-bare NAME K=V...    (handle an intent without its sentence)
    python wyoming_client.py URI detect WAV [NAME...]       (wake word detection on WAV)
    python wyoming_client.py URI synthesize TEXT [VOICE]
    python wyoming_client.py URI bench WAV N                (audio-stop -> transcript latencies)
    python wyoming_client.py URI realtime WAV STREAMS       (STREAMS paced at real time at once)
"""

import asyncio
import json
import sys
import time
import wave

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize, SynthesizeVoice
from wyoming.wake import Detect, Detection, NotDetected
from wyoming.intent import Entity

SAMPLES_PER_CHUNK = 1024
TIMEOUT = 60


def emit(obj):
    print(json.dumps(obj), flush=True)


async def read(client):
    event = await asyncio.wait_for(client.read_event(), TIMEOUT)
    if event is None:
        raise RuntimeError("the server closed the connection")
    return event


async def describe(uri):
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Describe().event())
        event = await read(client)
        assert Info.is_type(event.type), event.type
        info = Info.from_event(event)
        emit({
            "request": "describe",
            "asr": [{"name": p.name, "models": [m.name for m in p.models],
                     "languages": [l for m in p.models for l in m.languages],
                     "streaming": p.supports_transcript_streaming} for p in info.asr],
            "intent": [{"name": p.name, "languages": [l for m in p.models for l in m.languages]} for p in info.intent],
            "handle": [{"name": p.name, "home_control": p.supports_home_control} for p in info.handle],
            "tts": [{"name": p.name, "voices": [v.name for v in p.voices]} for p in info.tts],
            "wake": [{"name": p.name, "models": [m.name for m in p.models],
                      "phrases": [m.phrase for m in p.models],
                      "languages": [l for m in p.models for l in m.languages]} for p in info.wake],
        })


def load_wav(path):
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())


async def transcribe_one(uri, path, pace=False):
    rate, width, channels, pcm = load_wav(path)
    step = SAMPLES_PER_CHUNK * width * channels
    events = []
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        started = time.monotonic()
        chunks = 0
        for i in range(0, len(pcm), step):
            await client.write_event(
                AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i:i + step]).event())
            chunks += 1
            if pace:
                # Real time: chunk i is due at its own audio time.
                due = started + (i + step) / (rate * width * channels)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        await client.write_event(AudioStop().event())
        stopped = time.monotonic()
        while True:
            event = await read(client)
            if Transcript.is_type(event.type):
                latency = time.monotonic() - stopped
                t = Transcript.from_event(event)
                return {"request": "transcribe", "wav": path, "text": t.text, "language": t.language,
                        "chunks": chunks, "audio_s": len(pcm) / (rate * width * channels),
                        "latency_s": latency, "events": events}
            if Error.is_type(event.type):
                return {"request": "transcribe", "wav": path, "error": Error.from_event(event).text}
            if TranscriptStart.is_type(event.type) or TranscriptStop.is_type(event.type):
                events.append(event.type)
            elif TranscriptChunk.is_type(event.type):
                events.append("transcript-chunk:" + TranscriptChunk.from_event(event).text)
            else:
                events.append(event.type)


async def transcribe(uri, paths):
    for r in await asyncio.gather(*(transcribe_one(uri, p) for p in paths)):
        emit(r)


async def recognize(uri, text):
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Recognize(text=text).event())
        event = await read(client)
        if Intent.is_type(event.type):
            i = Intent.from_event(event)
            emit({"request": "recognize", "intent": i.name,
                  "entities": {e.name: e.value for e in i.entities}, "context": i.context})
        elif NotRecognized.is_type(event.type):
            emit({"request": "recognize", "intent": None})
        else:
            emit({"request": "recognize", "unexpected": event.type, "data": event.data})


async def handle(uri, text, via_intent=False):
    async with AsyncClient.from_uri(uri) as client:
        if via_intent:
            await client.write_event(Recognize(text=text).event())
            event = await read(client)
            assert Intent.is_type(event.type), event.type
            await client.write_event(event)
        else:
            await client.write_event(Transcript(text=text).event())
        event = await read(client)
        if Handled.is_type(event.type):
            emit({"request": "handle", "handled": True, "text": Handled.from_event(event).text})
        elif NotHandled.is_type(event.type):
            emit({"request": "handle", "handled": False, "text": NotHandled.from_event(event).text})
        else:
            emit({"request": "handle", "unexpected": event.type, "data": event.data})


async def handle_bare(uri, name, pairs):
    entities = [Entity(name=k, value=v) for k, v in (p.split("=", 1) for p in pairs)]
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Intent(name=name, entities=entities).event())
        event = await read(client)
        if Handled.is_type(event.type):
            emit({"request": "handle", "handled": True, "text": Handled.from_event(event).text})
        elif NotHandled.is_type(event.type):
            emit({"request": "handle", "handled": False, "text": NotHandled.from_event(event).text})
        else:
            emit({"request": "handle", "unexpected": event.type, "data": event.data})


async def detect(uri, path, names):
    rate, width, channels, pcm = load_wav(path)
    step = SAMPLES_PER_CHUNK * width * channels
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Detect(names=names or None).event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        for i in range(0, len(pcm), step):
            await client.write_event(
                AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i:i + step]).event())
        await client.write_event(AudioStop().event())
        detections = []
        while True:
            event = await read(client)
            if Detection.is_type(event.type):
                d = Detection.from_event(event)
                detections.append({"name": d.name, "timestamp": d.timestamp})
                # A detection ends the exchange for a pipeline; the server
                # sends nothing more for this stream once one was sent.
                break
            if NotDetected.is_type(event.type):
                break
            if Error.is_type(event.type):
                emit({"request": "detect", "wav": path, "error": Error.from_event(event).text})
                return
        emit({"request": "detect", "wav": path, "detections": detections,
              "audio_ms": 1000 * len(pcm) // (rate * width * channels)})


async def synthesize(uri, text, voice=None):
    async with AsyncClient.from_uri(uri) as client:
        v = SynthesizeVoice(name=voice) if voice else None
        await client.write_event(Synthesize(text=text, voice=v).event())
        start = None
        chunks = []
        while True:
            event = await read(client)
            if Error.is_type(event.type):
                emit({"request": "synthesize", "error": Error.from_event(event).text})
                return
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
            elif AudioChunk.is_type(event.type):
                chunks.append(AudioChunk.from_event(event))
            elif AudioStop.is_type(event.type):
                break
        pcm = b"".join(c.audio for c in chunks)
        emit({"request": "synthesize", "rate": start.rate, "width": start.width, "channels": start.channels,
              "chunks": len(chunks), "max_chunk_samples": max(c.samples for c in chunks),
              "audio_s": len(pcm) / (start.rate * start.width * start.channels),
              "peak": max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True)) for i in range(0, len(pcm), 2))})


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def bench(uri, path, n):
    latencies = []
    texts = set()
    for _ in range(n):
        r = await transcribe_one(uri, path)
        latencies.append(r["latency_s"])
        texts.add(r.get("text"))
    # Baseline in the same run: a describe -> info round trip (protocol + transport only).
    rtts = []
    async with AsyncClient.from_uri(uri) as client:
        for _ in range(n):
            t = time.monotonic()
            await client.write_event(Describe().event())
            await read(client)
            rtts.append(time.monotonic() - t)
    emit({"request": "bench", "n": n, "texts": sorted(t or "" for t in texts),
          "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
          "describe_rtt_p50_s": percentile(rtts, 50)})


async def realtime(uri, path, streams):
    t = time.monotonic()
    results = await asyncio.gather(*(transcribe_one(uri, path, pace=True) for _ in range(streams)))
    wall = time.monotonic() - t
    audio_s = results[0].get("audio_s", 0)
    emit({"request": "realtime", "streams": streams, "audio_s": audio_s, "wall_s": wall,
          "texts": [r.get("text", r.get("error")) for r in results],
          "latency_max_s": max(r.get("latency_s", 1e9) for r in results)})


def main(argv):
    uri, what, args = argv[1], argv[2], argv[3:]
    if what == "describe":
        asyncio.run(describe(uri))
    elif what == "transcribe":
        asyncio.run(transcribe(uri, args))
    elif what == "recognize":
        asyncio.run(recognize(uri, args[0]))
    elif what == "handle":
        asyncio.run(handle(uri, args[0]))
    elif what == "handle-intent":
        asyncio.run(handle(uri, args[0], via_intent=True))
    elif what == "handle-bare":
        asyncio.run(handle_bare(uri, args[0], args[1:]))
    elif what == "detect":
        asyncio.run(detect(uri, args[0], args[1:]))
    elif what == "synthesize":
        asyncio.run(synthesize(uri, args[0], args[1] if len(args) > 1 else None))
    elif what == "bench":
        asyncio.run(bench(uri, args[0], int(args[1])))
    elif what == "realtime":
        asyncio.run(realtime(uri, args[0], int(args[1])))
    else:
        sys.exit(f"unknown request {what!r}")


if __name__ == "__main__":
    main(sys.argv)
