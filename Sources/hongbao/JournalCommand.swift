import ArgumentParser
import Foundation
import HongbaoCore
import HongbaoSQLite

/// `hongbao journal PATH`: what a journaled engine's journal holds, read as the engine reads it on start.
struct Journal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recover a journaled engine's journal and tell what it holds: packets, money, entries, recovery time.",
        discussion: """
            Replays the journal exactly as `JournaledEngine` does when it opens (every value checked), then closes it \
            without writing. The journal must not be open in another process (a running service holds its lock).
            """)

    @Argument(help: "The journal (an SQLite file written by a journaled engine: hongbao-service --journal, bench --journal).")
    var path: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ReportError("no journal at \(path)") }
        let start = ContinuousClock.now
        let engine: JournaledEngine
        do {
            engine = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: path))
        } catch let error as JournalError {
            throw ReportError("\(error)")
        }
        let seconds = Double((ContinuousClock.now - start).nanosecondsSaturated) / 1e9
        defer { engine.close() }
        let packets = engine.heldImages()
        var (total, paid, refunded, open) = (Fen.zero, Fen.zero, Fen.zero, 0)
        var grants = 0
        for packet in packets {
            total = total + packet.total
            paid = paid + packet.amounts[..<packet.winners.count].sum()
            grants += packet.winners.count
            if let refund = packet.refund { refunded = refunded + refund.amount } else { open += 1 }
        }
        print("\(path): \(packets.count.formatted()) packets held (\(open.formatted()) not refunded), \(grants.formatted()) shares won")
        print("  money: \(total) sent = \(paid) paid + \(refunded) refunded + \(total - paid - refunded) still in open packets")
        print("""
              recovery: \(engine.recoveredEntries.formatted()) entries in \(String(format: "%.3f", seconds)) s \
            (\(Int(Double(engine.recoveredEntries) / max(seconds, 1e-9)).formatted()) entries/s)
            """)
    }
}
