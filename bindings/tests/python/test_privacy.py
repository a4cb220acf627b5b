"""Customer control and device watches from Python: a watch receives the
coffee machine's reports; the bean report reaches the coffee skill only after
the customer opted it in; consents, the ledger (read, verify), export and
erase; bad input is a typed exception.

Usage: test_privacy.py <data dir> <coffee bundle> <publisher public key file> <scratch dir>
"""
import asyncio
import os
import queue
import sys
import time

from emma import (Assistant, AssistantConfig, AssistantEvent, DeviceEventKind, DeviceInfo,
                  DeviceListener, EmmaError, LedgerVerification)
from support import Collector, publish

COFFEE = "com.example.coffee"


class DeviceEvents(DeviceListener):
    def __init__(self):
        self.events = queue.Queue()

    def on_device_event(self, event):
        self.events.put(event)

    def next(self, seconds=20):
        try:
            return self.events.get(timeout=seconds)
        except queue.Empty:
            raise AssertionError(f"no device event within {seconds} s") from None


def expect_invalid(fn, *args):
    try:
        fn(*args)
    except EmmaError.InvalidInput as e:
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} did not raise EmmaError.InvalidInput")


async def main(data_dir, bundle, key_file, scratch):
    assistant = Assistant(AssistantConfig(data_dir=data_dir, language="en"))
    skills = assistant.skills()
    with open(key_file) as f:
        skills.trust_publisher(f.read())
    await skills.install(bundle, ["store", "order:propose", "device:coffee.*:control"], False)
    events = Collector()
    assistant.add_listener(events)
    await assistant.start()
    broker = assistant.broker_address()
    assistant.add_device(DeviceInfo(id="coffee.machine", name="coffee machine", domain="switch"))
    assistant.add_device(DeviceInfo(id="light.hall", name="hall light", domain="light"))
    control = assistant.customer_control()

    # A watch on the coffee devices sees the machine's reports and nothing of the light.
    seen = DeviceEvents()
    watch = assistant.watch_devices("coffee.*", seen)
    assert watch.is_active()

    # A listener that raises is logged; its watch and the others go on.
    class Raising(DeviceListener):
        def on_device_event(self, event):
            raise RuntimeError("listener bug")

    raising = assistant.watch_devices("*", Raising())
    publish(broker, "emma/device/light.hall/state", '{"state":"on"}')
    publish(broker, "emma/device/coffee.machine/state", '{"state":"idle","bean_level":12}')
    report = seen.next()
    assert report.device == "coffee.machine" and report.kind == DeviceEventKind.STATE_CHANGED, report
    assert report.state == "idle" and '"bean_level":12' in report.attributes_json, report

    # Not opted in to proactive features: the skill is not called, nothing is proposed.
    # (A turn queued behind the report returns only after the report was handled.)
    time.sleep(0.3)
    assert not (await assistant.process_text("purple elephants sing")).commands
    time.sleep(0.5)
    assert not [e for e in events.seen if isinstance(e, AssistantEvent.PROPOSAL)], events.seen
    assert not control.allows(COFFEE, "proactive")

    # The customer opts in while the assistant runs: the next report reaches the skill.
    control.grant(COFFEE, "proactive", "reorder beans when they run low", None)
    control.grant(COFFEE, "device-usage", "see the bean level", None)
    active = [c for c in control.consents(COFFEE) if c.revoked_ms is None]
    assert sorted(c.category for c in active) == ["device-usage", "proactive"], active
    assert control.allows(COFFEE, "proactive")
    publish(broker, "emma/device/coffee.machine/state", '{"state":"idle","bean_level":11}')
    proposal = events.wait_for("order proposal", lambda e: e if isinstance(e, AssistantEvent.PROPOSAL) else None)
    assert proposal.skill == COFFEE
    assert '"bean_level":11' in seen.next().attributes_json

    # The ledger names the share and the stored proposal, never a value, and verifies.
    ledger = control.ledger(COFFEE, None, None)
    assert any(e.action == "share" and e.category == "device-usage" and e.field == "coffee.machine"
               and e.reason == "event:bean-level" and e.consent is not None for e in ledger), ledger
    assert any(e.action == "store" and e.category == "orders" and e.field == proposal.id for e in ledger), ledger
    assert len(control.ledger(None, None, 3)) == 3
    verified = control.verify_ledger()
    assert isinstance(verified, LedgerVerification.INTACT) and verified.entries >= len(ledger), verified

    # Revoked: in effect on the next report.
    assert [c.category for c in control.revoke(COFFEE, "proactive")] == ["proactive"]
    assert not control.allows(COFFEE, "proactive")

    # Bad input: typed exceptions that name the problem; a failed export writes nothing.
    assert "no.such.skill" in expect_invalid(control.grant, "no.such.skill", "orders", "x", None)
    assert "recordings" in expect_invalid(control.grant, COFFEE, "recordings", "x", None)
    nowhere = os.path.join(scratch, "missing-dir", "export.json")
    expect_invalid(control.export, nowhere)
    assert not os.path.exists(nowhere)

    assert raising.is_active()
    watch.cancel()
    raising.cancel()
    await assistant.stop()
    try:
        assistant.watch_devices("*", seen)
        raise AssertionError("a watch on a stopped assistant was accepted")
    except EmmaError.NotRunning as e:
        assert "start" in str(e), e

    # Export holds the customer's data; erase removes it and the ledger says so.
    out = os.path.join(scratch, "export.json")
    summary = control.export(out)
    assert summary.bytes == os.path.getsize(out) and summary.counts.get("orders", 0) >= 1, summary
    with open(out) as f:
        text = f.read()
    assert "BEANS-HOUSE-1KG" in text and '"format": "emma-customer-export"' in text, text[:400]
    erased = control.erase()
    assert erased.rows > 0 and erased.stores, erased
    assert skills.orders() == [], skills.orders()
    assert control.ledger(None, None, 1)[0].action == "erase"
    assert isinstance(control.verify_ledger(), LedgerVerification.INTACT)


asyncio.run(main(*sys.argv[1:5]))
print("python privacy: ok")
