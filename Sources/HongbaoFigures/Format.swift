import Foundation

/// Formatting shared by the text and HTML reports and `bench`'s table: the one place figures become text.
package enum Format {
    /// Nanoseconds as ns, µs, ms or s, three significant figures or so.
    package static func duration(_ nanoseconds: Int64) -> String {
        switch nanoseconds {
        case ..<1_000: "\(nanoseconds) ns"
        case ..<1_000_000: fixed(Double(nanoseconds) / 1e3, 1) + " µs"
        case ..<1_000_000_000: fixed(Double(nanoseconds) / 1e6, 1) + " ms"
        default: fixed(Double(nanoseconds) / 1e9, 2) + " s"
        }
    }

    /// A count, rounded, with thousands separators (`–` for a value no Int64 holds).
    package static func count(_ value: Double) -> String {
        guard value.isFinite, value.magnitude < 9e18 else { return "–" }
        return grouped(Int64(value.rounded()))
    }

    /// An integer with thousands separators.
    package static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Fen as yuan: ¥1,234.05.
    package static func fen(_ value: Int64) -> String {
        "¥" + grouped(value / 100) + "." + (value % 100 < 10 ? "0" : "") + String(value % 100)
    }

    /// A number with `places` decimals.
    package static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }

    package static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "–" : fixed(100 * Double(part) / Double(whole), 1) + "%"
    }

    /// Rows as aligned columns, two spaces apart; the columns in `rightAligned` are right-aligned.
    package static func table(_ rows: [[String]], rightAligned: Range<Int>) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
