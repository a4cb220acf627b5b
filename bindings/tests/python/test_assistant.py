"""The assistant from Python: text → intent → reply with a device command that
reaches the embedded broker; a request for a person, touchpoint reports with consent;
a skill's order proposal confirmed by the customer.

Usage: test_assistant.py <data dir> <coffee bundle> <publisher public key file>
"""
import asyncio
import sys

from emma import Assistant, AssistantConfig, AssistantEvent, DeviceInfo, OrderState
from support import Collector, MqttWatch, publish

COFFEE = "com.example.coffee"


async def main(data_dir, bundle, key_file):
    assistant = Assistant(AssistantConfig(data_dir=data_dir, language="en", home_id="home-py"))
    skills = assistant.skills()
    with open(key_file) as f:
        skills.trust_publisher(f.read())
    await skills.install(bundle, ["store", "order:propose", "device:coffee.*:control"], False)

    events = Collector()
    assistant.add_listener(events)
    await assistant.start()
    assert assistant.is_running()
    broker = assistant.broker_address()
    assert broker, "no embedded broker address"
    assert "OrderDrink" in assistant.intents()[COFFEE], assistant.intents()

    assistant.add_device(DeviceInfo(id="light.kitchen_lamp", name="kitchen lamp", domain="light"))
    assistant.add_device(DeviceInfo(id="coffee.machine", name="coffee machine", domain="switch"))
    assert {d.id for d in assistant.devices()} == {"light.kitchen_lamp", "coffee.machine"}, assistant.devices()

    with MqttWatch(broker, "emma/device/+/set") as mqtt:
        turn = await assistant.process_text("turn on the kitchen lamp")
        assert turn.intent is not None and turn.intent.name == "HassTurnOn", turn
        assert [c.device for c in turn.commands] == ["light.kitchen_lamp"], turn.commands
        assert turn.reply.strip(), "empty reply"
        assert "on" in mqtt.next("emma/device/light.kitchen_lamp/set").lower()
        events.wait_for("intent event", lambda e: e if isinstance(e, AssistantEvent.INTENT) and e.intent.name == "HassTurnOn" else None)
        events.wait_for("device command event", lambda e: e if isinstance(e, AssistantEvent.DEVICE_COMMAND) and e.device == "light.kitchen_lamp" else None)
        events.wait_for("reply event", lambda e: e if isinstance(e, AssistantEvent.REPLY) and e.text == turn.reply else None)

        sent = await assistant.control_device("light.kitchen_lamp", "brightness=40")
        assert len(sent) == 1 and sent[0].device == "light.kitchen_lamp", sent
        assert "40" in mqtt.next("emma/device/light.kitchen_lamp/set")

    # A person at the brand, touchpoints: the home id, "did that help?", aggregates only with consent.
    assert assistant.home_id() == "home-py", assistant.home_id()
    asked = await assistant.process_text("I want to talk to a person")
    assert asked.intent is not None and asked.intent.name == "EmmaTalkToPerson", asked
    events.wait_for("handoff event", lambda e: e if isinstance(e, AssistantEvent.HANDOFF) else None)
    assert await assistant.report_touchpoints() == [], "no consent: nothing leaves the home"
    control = assistant.customer_control()
    control.grant("emma", "touchpoints", "help Emma's makers improve it", None)
    await assistant.process_text("connect me to a human")
    assert assistant.rate_latest_interaction(True)
    reports = await assistant.report_touchpoints()
    assert [r.brand for r in reports] == ["emma"], reports
    stats = reports[0].stats
    assert [(s.intent, s.count, s.handoffs, s.satisfaction_positive) for s in stats] == [("EmmaTalkToPerson", 1, 1, 1)], stats

    drink = await assistant.process_text("make me a latte")
    assert drink.intent is not None and drink.intent.name == "OrderDrink" and drink.handled_by == COFFEE, drink
    assert drink.reply.strip()

    # Proactive features are opt-in: the customer lets the skill act on device events.
    control.grant(COFFEE, "proactive", "reorder beans when they run low", None)
    control.grant(COFFEE, "device-usage", "see the bean level", None)

    publish(broker, "emma/device/coffee.machine/state", '{"state":"idle","bean_level":12}')
    proposal = events.wait_for("order proposal", lambda e: e if isinstance(e, AssistantEvent.PROPOSAL) else None)
    assert proposal.skill == COFFEE and proposal.lines, proposal
    assert [o.state for o in skills.orders() if o.id == proposal.id] == [OrderState.PENDING]
    confirmed = skills.confirm_order(proposal.id)
    assert confirmed.state == OrderState.CONFIRMED, confirmed
    assert [o.state for o in skills.orders() if o.id == proposal.id] == [OrderState.CONFIRMED]

    await assistant.stop()
    assert not assistant.is_running()


asyncio.run(main(*sys.argv[1:4]))
print("python assistant: ok")
