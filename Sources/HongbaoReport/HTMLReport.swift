import HongbaoFigures
/// The report as one self-contained HTML page: inline SVG charts, no script, no font or file from the network.
public enum HTMLReport {
    /// A self-contained HTML page (inline SVG charts, no scripts) comparing `analyses`, read from `database`.
    public static func render(_ analyses: [RunAnalysis], database: String) -> String {
        var body = "<h1>Hongbao runs</h1><p>From <code>\(escape(database))</code>.</p>"
        body += "<h2>Throughput</h2>"
        body += SVGChart.bars(title: "Successful grabs per second", unit: "grabs/s",
                              analyses.map { ("run \($0.run.id) · \($0.run.engine)", $0.run.grabsPerSecond) })
        body += "<h2>Latency</h2>" + latencyChart(analyses)
        body += "<pre>" + escape(TextReport.comparison(analyses)) + "</pre>"
        for analysis in analyses {
            body += "<h2>Run \(analysis.run.id): \(escape(analysis.run.engine))</h2>"
            body += fairnessCharts(analysis)
            body += "<details><summary>Numbers</summary><pre>" + escape(TextReport.detail(analysis)) + "</pre></details>"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Hongbao report</title>
            <style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}svg{display:block;margin:1em 0}\
            pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}h2{border-bottom:1px solid #ddd}</style>
            </head><body>\(body)</body></html>
            """
    }

    /// Latency by percentile on HdrHistogram's axis: 1 / (1 − p), so the tail gets the room.
    static func latencyChart(_ analyses: [RunAnalysis]) -> String {
        let series = analyses.compactMap { analysis -> SVGChart.Series? in
            let points = analysis.ladder.filter { $0.0 < 100 }.map { (x: 1 / (1 - $0.0 / 100), y: Double(max($0.1, 1))) }
            return points.isEmpty ? nil : SVGChart.Series(name: "run \(analysis.run.id) \(analysis.run.engine)", points: points)
        }
        guard !series.isEmpty else { return "<p>No latency ladder stored.</p>" }
        let ys = series.flatMap { $0.points.map(\.y) }
        var yTicks: [(Double, String)] = []
        var tick = 1.0
        while tick <= (ys.max() ?? 1) * 10 {
            if tick >= (ys.min() ?? 1) / 10 { yTicks.append((tick, Format.duration(Int64(tick)))) }
            tick *= 10
        }
        let chart = SVGChart(title: "Latency by percentile", xLabel: "percentile", yLabel: "latency",
                             xScale: .log10, yScale: .log10,
                             xTicks: [(2, "50%"), (10, "90%"), (100, "99%"), (1_000, "99.9%"), (10_000, "99.99%"), (100_000, "99.999%")],
                             yTicks: yTicks)
        return chart.line(series)
    }

    /// Share ÷ average share by grab position per algorithm: its mean, its spread, and where the luckiest share fell.
    static func fairnessCharts(_ analysis: RunAnalysis) -> String {
        guard let shares = analysis.comparedShares else { return "<p>No fully grabbed lucky packets to compare.</p>" }
        let positions = (1 ... shares).map { (Double($0), "\($0)") }
        let algorithms = analysis.algorithms.sorted()
        let rows = { (algorithm: String) in analysis.positions.filter { $0.algorithm == algorithm } }
        let means = SVGChart(title: "Mean share ÷ average share by grab position (\(shares)-share packets)",
                             xLabel: "grab position", yLabel: "mean share ÷ average", xTicks: positions,
                             yTicks: [(0.8, "0.8"), (0.9, "0.9"), (1, "1.0"), (1.1, "1.1"), (1.2, "1.2")])
        let meanSeries = algorithms.map { algorithm in
            SVGChart.Series(name: algorithm, points: rows(algorithm).map { (Double($0.position), $0.mean) })
        }
        let spreadSeries = algorithms.map { algorithm in
            SVGChart.Series(name: algorithm, points: rows(algorithm).map { (Double($0.position), $0.standardDeviation) })
        }
        let topSpread = spreadSeries.flatMap { $0.points.map(\.y) }.max() ?? 1
        let spread = SVGChart(title: "Spread: standard deviation of share ÷ average, by grab position",
                              xLabel: "grab position", yLabel: "standard deviation", xTicks: positions,
                              yTicks: stride(from: 0.0, through: topSpread + 0.2, by: 0.2).map { ($0, Format.fixed($0, 1)) })
        let luckiest = algorithms.map { algorithm in
            let packets = max(1, analysis.packets(of: algorithm))
            let rows = analysis.positions.filter { $0.algorithm == algorithm }
            return SVGChart.Series(name: algorithm, points: rows.map { (Double($0.position), 100 * Double($0.luckiest) / Double(packets)) })
        }
        let top = luckiest.flatMap { $0.points.map(\.y) }.max() ?? 10
        let step = top > 40 ? 20.0 : top > 20 ? 10.0 : 5.0
        let luck = SVGChart(title: "Where the luckiest share (手气最佳) fell", xLabel: "grab position",
                            yLabel: "% of packets", xTicks: positions,
                            yTicks: stride(from: 0.0, through: top + step, by: step).map { ($0, Format.fixed($0, 0) + "%") })
        return means.line(meanSeries) + spread.line(spreadSeries) + luck.line(luckiest)
    }
}
