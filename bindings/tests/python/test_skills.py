"""Skills from Python: trust a publisher, install a signed bundle, see and change grants, uninstall.

Usage: test_skills.py <skill dir> <bundle path> <publisher public key file>
"""
import asyncio
import atexit
import sys

from emma import EmmaError, SkillManager, wait_for_callbacks

atexit.register(wait_for_callbacks, 5000)  # see support.py

skill_dir, bundle, key_file = sys.argv[1:4]
skills = SkillManager.open(skill_dir, "default")
ID = "com.example.coffee"

try:
    asyncio.run(skills.install(bundle, ["store"], False))
    raise AssertionError("an untrusted bundle was installed")
except EmmaError.Skills as e:
    assert "trust" in str(e).lower(), str(e)

with open(key_file) as f:
    skills.trust_publisher(f.read())
info = asyncio.run(skills.install(bundle, ["store"], False))
assert info.id == ID and info.signed_by is not None, info
assert "order:propose" in skills.requested_permissions(ID), skills.requested_permissions(ID)
assert skills.granted_permissions(ID) == ["store"], skills.granted_permissions(ID)

skills.grant(ID, ["order:propose", "device:coffee.*:control"])
assert set(skills.granted_permissions(ID)) == {"store", "order:propose", "device:coffee.*:control"}
try:
    skills.grant(ID, ["handoff"])
    raise AssertionError("a permission the skill does not declare was granted")
except EmmaError.Skills as e:
    assert "handoff" in str(e), str(e)
try:
    skills.grant(ID, ["launch-missiles"])
    raise AssertionError("a malformed permission was accepted")
except EmmaError.InvalidInput as e:
    assert "launch-missiles" in str(e), str(e)
assert skills.revoke(ID, "store") == 1
assert [s.id for s in skills.list()] == [ID]

try:
    skills.confirm_order("no-such-order")
    raise AssertionError("an unknown order was confirmed")
except EmmaError.Skills as e:
    assert "no-such-order" in str(e), str(e)

skills.uninstall(ID, True)
assert skills.list() == [], skills.list()
try:
    skills.get(ID)
    raise AssertionError("an uninstalled skill was found")
except EmmaError.Skills as e:
    assert ID in str(e), str(e)
print("python skills: ok")
