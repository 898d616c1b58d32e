import Foundation
import HongbaoFigures

/// Small, dependency-free SVG charts for the HTML report: lines and horizontal bars.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    enum Scale { case linear, log10 }

    static let palette = ["#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98", "#117a65", "#5d6d7e"]

    var title: String
    var xLabel: String
    var yLabel: String
    var xScale: Scale = .linear
    var yScale: Scale = .linear
    var xTicks: [(Double, String)]
    var yTicks: [(Double, String)]
    var width = 640.0
    var height = 320.0
    let margin = (left: 70.0, right: 150.0, top: 34.0, bottom: 46.0)

    func line(_ series: [Series]) -> String {
        let xs = series.flatMap { $0.points.map(\.x) } + xTicks.map(\.0)
        let ys = series.flatMap { $0.points.map(\.y) } + yTicks.map(\.0)
        let (x0, x1) = (transform(xs.min() ?? 0, xScale), transform(xs.max() ?? 1, xScale))
        let (y0, y1) = (transform(ys.min() ?? 0, yScale), transform(ys.max() ?? 1, yScale))
        let plotWidth = width - margin.left - margin.right, plotHeight = height - margin.top - margin.bottom
        func px(_ x: Double) -> Double { margin.left + (transform(x, xScale) - x0) / max(x1 - x0, 1e-12) * plotWidth }
        func py(_ y: Double) -> Double { margin.top + plotHeight - (transform(y, yScale) - y0) / max(y1 - y0, 1e-12) * plotHeight }

        var svg = header()
        svg += axes(px: px, py: py, plotWidth: plotWidth, plotHeight: plotHeight)
        for (index, item) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let path = item.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            for point in item.points {
                svg += """
                    <circle cx=\"\(n(px(point.x)))\" cy=\"\(n(py(point.y)))\" r=\"2.5\" fill=\"\(color)\"><title>\(escape(item.name)): \
                    \(Format.fixed(point.y, 3))</title></circle>
                    """
            }
            let legendY = margin.top + 14 + Double(index) * 18
            svg += "<rect x=\"\(n(width - margin.right + 12))\" y=\"\(n(legendY - 9))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(n(width - margin.right + 30))\" y=\"\(n(legendY + 1))\" font-size=\"12\">\(escape(item.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars, one per (label, value).
    static func bars(title: String, unit: String, _ bars: [(label: String, value: Double)]) -> String {
        let rowHeight = 28.0, left = 210.0, width = 640.0
        let height = 50 + rowHeight * Double(bars.count)
        let top = bars.map(\.value).max() ?? 1
        var svg = """
            <svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" \
            font-family=\"sans-serif\">
            """
        svg += "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>"
        for (index, bar) in bars.enumerated() {
            let y = 34 + Double(index) * rowHeight
            let length = top > 0 ? bar.value / top * (width - left - 110) : 0
            svg += "<text x=\"\(n(left - 8))\" y=\"\(n(y + 15))\" font-size=\"12\" text-anchor=\"end\">\(escape(bar.label))</text>"
            let fill = palette[index % palette.count]
            svg += "<rect x=\"\(n(left))\" y=\"\(n(y + 2))\" width=\"\(n(max(length, 1)))\" height=\"18\" fill=\"\(fill)\"/>"
            svg += "<text x=\"\(n(left + length + 6))\" y=\"\(n(y + 15))\" font-size=\"12\">\(Format.count(bar.value)) \(escape(unit))</text>"
        }
        return svg + "</svg>"
    }

    private func header() -> String {
        """
            <svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" \
            font-family=\"sans-serif\">
            """
            + "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>"
    }

    private func axes(px: (Double) -> Double, py: (Double) -> Double, plotWidth: Double, plotHeight: Double) -> String {
        var svg = """
            <rect x=\"\(n(margin.left))\" y=\"\(n(margin.top))\" width=\"\(n(plotWidth))\" height=\"\(n(plotHeight))\" fill=\"none\" \
            stroke=\"#999\"/>
            """
        for (value, label) in xTicks {
            let x = px(value)
            svg += "<line x1=\"\(n(x))\" y1=\"\(n(margin.top))\" x2=\"\(n(x))\" y2=\"\(n(margin.top + plotHeight))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(n(x))\" y=\"\(n(margin.top + plotHeight + 16))\" font-size=\"11\" text-anchor=\"middle\">\(escape(label))</text>"
        }
        for (value, label) in yTicks {
            let y = py(value)
            svg += "<line x1=\"\(n(margin.left))\" y1=\"\(n(y))\" x2=\"\(n(margin.left + plotWidth))\" y2=\"\(n(y))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(n(margin.left - 6))\" y=\"\(n(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(escape(label))</text>"
        }
        svg += "<text x=\"\(n(margin.left + plotWidth / 2))\" y=\"\(n(height - 8))\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += """
            <text x=\"14\" y=\"\(n(margin.top + plotHeight / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \
            \(n(margin.top + plotHeight / 2)))\">\(escape(yLabel))</text>
            """
        return svg
    }

    private func transform(_ value: Double, _ scale: Scale) -> Double {
        switch scale {
        case .linear: value
        case .log10: log10(max(value, 1e-12))
        }
    }

    private func n(_ value: Double) -> String { Self.n(value) }
    static func n(_ value: Double) -> String { String(format: "%.1f", value) }
}

func escape(_ text: String) -> String {
    text.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
        .replacingAll("\"", with: "&quot;")
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        replacingOccurrences(of: target, with: replacement)
    }
}
