"""Helpers shared by the Python test scripts: an event collector and an MQTT
watcher (mosquitto_sub) that proves commands reached the broker."""
import atexit
import queue
import subprocess
import threading
import time

from emma import AssistantEvent, EventListener, wait_for_callbacks

# Before the interpreter finalizes, Emma's threads return from the scripts'
# code: one that wanted the GIL back during finalization would be ended, and
# that aborts the process (see `wait_for_callbacks`).
atexit.register(wait_for_callbacks, 5000)


class Collector(EventListener):
    """Collects every event the assistant reports."""

    def __init__(self):
        self.events = queue.Queue()
        self.seen = []

    def on_event(self, event):
        self.seen.append(event)
        self.events.put(event)

    def wait_for(self, what, pick, seconds=20):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {what} within {seconds} s; events: {self.seen}"
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                continue
            got = pick(e)
            if got is not None:
                return got


class ThrowingListener(EventListener):
    """A listener that always raises: the assistant must carry on."""

    def on_event(self, event):
        raise RuntimeError("listener bug")


def _host_port(address):
    host, _, port = address.rpartition(":")
    return host, port


def publish(address, topic, payload):
    host, port = _host_port(address)
    subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", topic, "-m", payload],
                   check=True, timeout=20)


class MqttWatch:
    """mosquitto_sub on the assistant's broker, yielding `topic payload` lines."""

    def __init__(self, address, *topics):
        host, port = _host_port(address)
        args = ["mosquitto_sub", "-h", host, "-p", port, "-v", "-t", "emma/test/probe"]
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, f"mosquitto_sub never received its probe on {address}"
            publish(address, "emma/test/probe", "probe")
            try:
                if self.lines.get(timeout=0.2).startswith("emma/test/probe"):
                    break
            except queue.Empty:
                pass

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self, prefix, seconds=20):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"nothing on {prefix} within {seconds} s"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
