// Runs Emma's assistant on typed commands and prints each event (Swift sample;
// not compiled here: no Swift toolchain on the CI machine).
//
// Build Emma.xcframework and the Swift sources on macOS with
// bindings/scripts/build-xcframework.sh, add both to an Xcode target (or a
// SwiftPM package), then run.
import Foundation

final class PrintEvents: EventListener {
    func onEvent(event: AssistantEvent) throws {
        print("event: \(event)")
    }
}

final class PrintDevices: DeviceListener {
    func onDeviceEvent(event: DeviceEventInfo) throws {
        print("device: \(event.device) \(event.kind) state=\(event.state ?? "-")")
    }
}

@main
struct RunAssistant {
    static func main() async {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("emma").path
        do {
            let assistant = try Assistant(config: AssistantConfig(dataDir: dataDir, language: "en"))
            assistant.addListener(listener: PrintEvents())
            try await assistant.start()
            try assistant.addDevice(device: DeviceInfo(id: "light.kitchen_lamp", name: "kitchen lamp", domain: "light"))
            let watch = try assistant.watchDevices(pattern: "light.*", listener: PrintDevices())
            for line in ["turn on the kitchen lamp", "dim the kitchen lamp to 40 percent", "what is the weather on mars"] {
                let turn = try await assistant.processText(text: line)
                print("turn: heard \"\(turn.heard)\" -> \"\(turn.reply)\"")
            }
            watch.cancel()
            // What was kept and who got it: the customer's ledger (never the values).
            let control = try assistant.customerControl()
            for entry in try control.ledger(party: nil, sinceMs: nil, limit: 10) {
                print("ledger: \(entry.action) \(entry.category) \(entry.field ?? "") -> \(entry.party) (\(entry.reason))")
            }
            try await assistant.stop()
        } catch let error as EmmaError {
            print("emma: \(error)")
        } catch {
            print("error: \(error)")
        }
    }
}
