"""Bad input from Python: every misuse ends in a typed exception or a clean
no-op, never a crash of the interpreter.

Usage: test_bad_input.py <data dir>
"""
import asyncio
import sys
import threading

from emma import (
    Assistant,
    AssistantConfig,
    AssistantEvent,
    EmmaError,
    EventListener,
    SpeechConfig,
    SpeechEngine,
    wait_for_callbacks,
)
from support import Collector, ThrowingListener

data_dir = sys.argv[1]


def expect(exc, fn, *args):
    try:
        r = fn(*args)
        if asyncio.iscoroutine(r):
            asyncio.run(r)
    except exc as e:
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc.__name__}")


msg = expect(EmmaError.Config, Assistant, AssistantConfig(data_dir=data_dir, language="fr"))
assert "language" in msg, msg
msg = expect(EmmaError.Config, Assistant, AssistantConfig(data_dir=data_dir, confidence_threshold=1.5))
assert "confidence_threshold" in msg, msg



def with_moonshine(**models):
    speech = SpeechConfig(
        engine=SpeechEngine.POCKET_SPHINX,
        model="/usr/share/pocketsphinx/model/en-us",
        model_language="en",
        **models,
    )
    a = Assistant(AssistantConfig(data_dir=data_dir, load_skills=False, speech=speech))
    asyncio.run(a.start())


# A Moonshine model that is not there: a typed error naming the directory.
for use in ("open_vocabulary_model", "agreement_model"):
    missing = f"/nonexistent/{use}/moonshine-base-en"
    msg = expect(EmmaError.Speech, lambda: with_moonshine(**{use: missing}))
    assert missing in msg, (use, msg)

assistant = Assistant(AssistantConfig(data_dir=data_dir, load_skills=False))
msg = expect(EmmaError.NotRunning, assistant.process_text, "turn on the kitchen lamp")
assert "start" in msg, msg
expect(EmmaError.NotRunning, assistant.devices)
expect(EmmaError.NotRunning, assistant.end_audio)
expect(EmmaError.NotRunning, assistant.calibrate_speech, None)
# Wrong argument types are Python TypeErrors raised before any native call.
expect(TypeError, assistant.process_audio, "not audio", 16000)

events = Collector()
assistant.add_listener(ThrowingListener())
assistant.add_listener(events)
asyncio.run(assistant.start())
asyncio.run(assistant.start())  # starting twice is a no-op
# Calibrating speech needs speech: a typed error, not a crash.
msg = expect(EmmaError.Speech, assistant.calibrate_speech, None)
assert "speech" in msg.lower(), msg
turn = asyncio.run(assistant.process_text("what is the meaning of life"))
assert turn.intent is None, turn
events.wait_for("not-understood event", lambda e: e if isinstance(e, AssistantEvent.NOT_UNDERSTOOD) else None)

# The blocking form answers on the calling thread.
turn = assistant.process_text_blocking("what is the meaning of life")
assert turn.intent is None and turn.reply, turn


class Reentrant(EventListener):
    """Calls the blocking form from inside a listener: refused, not a deadlock."""

    def __init__(self):
        self.errors = []

    def on_event(self, event):
        if isinstance(event, AssistantEvent.REPLY) and not self.errors:
            try:
                assistant.process_text_blocking("turn on the kitchen lamp")
                self.errors.append("no error")
            except EmmaError.WrongThread as e:
                self.errors.append(str(e))


reentrant = Reentrant()
assistant.add_listener(reentrant)
# In a daemon thread with a deadline: a deadlock fails the test instead of hanging it.
answered = []


def call_blocking():
    try:
        answered.append(assistant.process_text_blocking("what is the meaning of life"))
    except BaseException as e:  # reported below
        answered.append(e)


caller = threading.Thread(target=call_blocking, daemon=True)
caller.start()
caller.join(20)
assert answered, "the turn did not come back within 20 s: the listener's call deadlocked"
assert not isinstance(answered[0], BaseException) and answered[0].intent is None, answered[0]
assert len(reentrant.errors) == 1 and "another thread" in reentrant.errors[0], reentrant.errors



class Slow(EventListener):
    """Holds the assistant's thread inside the app's code until released."""

    def __init__(self):
        self.inside = threading.Event()
        self.release = threading.Event()

    def on_event(self, event):
        if isinstance(event, AssistantEvent.REPLY) and not self.inside.is_set():
            self.inside.set()
            self.release.wait(20)


# While one of Emma's threads is inside the app's code, wait_for_callbacks says
# so and waits for it (an app registers it with atexit, so that the
# interpreter never ends such a thread mid-call).
slow = Slow()
assistant.add_listener(slow)
turning = threading.Thread(target=lambda: assistant.process_text_blocking("hello there"), daemon=True)
turning.start()
assert slow.inside.wait(20), "the listener was not called"
assert not wait_for_callbacks(50), "a listener call is running: wait_for_callbacks said none is"
slow.release.set()
assert wait_for_callbacks(10000), "the listener returned, but wait_for_callbacks timed out"
turning.join(20)

msg = expect(EmmaError.Speech, assistant.process_audio, [0] * 1600, 16000)
assert "speech" in msg, msg

# Many threads at once, and a stop in the middle: each call returns a turn or NotRunning.
results = []
lock = threading.Lock()


def worker(i):
    try:
        asyncio.run(assistant.process_text("turn on the kitchen lamp" if i % 2 == 0 else "hello there"))
        assistant.is_running()
        r = "ok"
    except EmmaError.NotRunning:
        r = "not running"
    except BaseException as e:  # anything else is a failure, reported below
        r = repr(e)
    with lock:
        results.append(r)


threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
for t in threads:
    t.start()
stopper = threading.Thread(target=lambda: asyncio.run(assistant.stop()))
stopper.start()
for t in threads + [stopper]:
    t.join()
bad = [r for r in results if r not in ("ok", "not running")]
assert len(results) == 64 and not bad, bad
asyncio.run(assistant.stop())  # stopping twice is a no-op
expect(EmmaError.NotRunning, assistant.process_text, "turn on the kitchen lamp")


# Dropping the object while a call is in flight: the call holds its own reference and finishes.
async def drop_in_flight():
    a = Assistant(AssistantConfig(data_dir=data_dir, load_skills=False))
    await a.start()
    task = asyncio.ensure_future(a.process_text("turn off the kitchen lamp"))
    del a
    await task


asyncio.run(drop_in_flight())
print(f"python bad input: ok ({results.count('ok')} turns, {results.count('not running')} not running)")
