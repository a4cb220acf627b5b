// Skills from Kotlin: trust a publisher, install a signed bundle, see and change grants, uninstall.
// Arguments: <skill dir> <bundle path> <publisher public key file>
@file:JvmName("SkillsTest")

package emma.tests

import emma.EmmaException
import emma.SkillManager
import java.io.File
import kotlinx.coroutines.runBlocking

fun main(args: Array<String>) {
    val (dir, bundle, keyFile) = args
    val skills = SkillManager.open(dir, "default")
    val id = "com.example.coffee"

    // Not trusted yet: refused, and the message says how to fix it.
    try {
        runBlocking { skills.install(bundle, listOf("store"), false) }
        error("an untrusted bundle was installed")
    } catch (e: EmmaException.Skills) {
        check(e.message!!.contains("trust", ignoreCase = true)) { "message: ${e.message}" }
    }

    skills.trustPublisher(File(keyFile).readText())
    val info = runBlocking { skills.install(bundle, listOf("store"), false) }
    check(info.id == id && info.signedBy != null) { "installed: $info" }
    check("order:propose" in skills.requestedPermissions(id)) { "requested: ${skills.requestedPermissions(id)}" }
    check(skills.grantedPermissions(id) == listOf("store")) { "granted: ${skills.grantedPermissions(id)}" }

    skills.grant(id, listOf("order:propose", "device:coffee.*:control"))
    check(skills.grantedPermissions(id).toSet() == setOf("store", "order:propose", "device:coffee.*:control")) {
        "granted: ${skills.grantedPermissions(id)}"
    }
    try {
        skills.grant(id, listOf("handoff"))
        error("a permission the skill does not declare was granted")
    } catch (e: EmmaException.Skills) {
        check(e.message!!.contains("handoff")) { "message: ${e.message}" }
    }
    try {
        skills.grant(id, listOf("launch-missiles"))
        error("a malformed permission was accepted")
    } catch (e: EmmaException.InvalidInput) {
        check(e.message!!.contains("launch-missiles")) { "message: ${e.message}" }
    }
    check(skills.revoke(id, "store") == 1UL)
    check(skills.list().map { it.id } == listOf(id))

    try {
        skills.confirmOrder("no-such-order")
        error("an unknown order was confirmed")
    } catch (e: EmmaException.Skills) {
        check(e.message!!.contains("no-such-order")) { "message: ${e.message}" }
    }

    skills.uninstall(id, true)
    check(skills.list().isEmpty()) { "still installed: ${skills.list()}" }
    try {
        skills.get(id)
        error("an uninstalled skill was found")
    } catch (e: EmmaException.Skills) {
        check(e.message!!.contains(id)) { "message: ${e.message}" }
    }
    println("kotlin skills: ok")
}
