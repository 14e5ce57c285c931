//! The run second by second (rate, concurrent calls, setup time, new failures by
//! cause) and its plot as a small hand-written SVG.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

/// One second of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub t: f64,
    /// Calls placed in that second.
    pub rate: f64,
    /// Calls in progress at its end.
    pub active: u64,
    /// Median INVITE → 200 of the calls answered in it (0 when none).
    pub setup_p50_ms: f64,
    /// Failures counted in that second, by cause (audio checks are judged after the
    /// run, so they appear in none).
    pub failed: BTreeMap<String, u64>,
}

/// A second in which something failed (the report's time series).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureSecond {
    pub t: f64,
    pub failed: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    pub samples: Vec<Sample>,
}

const W: f64 = 640.0;
const PANEL: f64 = 120.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 24.0;

impl Timeline {
    pub fn push(&mut self, s: Sample) {
        self.samples.push(s);
    }

    /// The seconds with failures, and which.
    pub fn failures(&self) -> Vec<FailureSecond> {
        self.samples
            .iter()
            .filter(|s| !s.failed.is_empty())
            .map(|s| FailureSecond {
                t: s.t,
                failed: s.failed.clone(),
            })
            .collect()
    }

    /// Four panels over time: calls/s, concurrent calls, median setup (ms), failures/s
    /// (its causes named under it).
    pub fn svg(&self) -> String {
        let panels: [(&str, &str, Vec<f64>); 4] = [
            (
                "calls/s",
                "#1f77b4",
                self.samples.iter().map(|s| s.rate).collect(),
            ),
            (
                "concurrent",
                "#2ca02c",
                self.samples.iter().map(|s| s.active as f64).collect(),
            ),
            (
                "setup p50 ms",
                "#d62728",
                self.samples.iter().map(|s| s.setup_p50_ms).collect(),
            ),
            (
                "failures/s",
                "#9467bd",
                self.samples
                    .iter()
                    .map(|s| s.failed.values().sum::<u64>() as f64)
                    .collect(),
            ),
        ];
        let t_max = self.samples.last().map_or(1.0, |s| s.t.max(1.0));
        let height = TOP + panels.len() as f64 * (PANEL + 30.0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">"
        );
        let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"14\">pbx sim: {:.0} s</text>",
            t_max
        );
        for (i, (label, colour, values)) in panels.iter().enumerate() {
            let y0 = TOP + i as f64 * (PANEL + 30.0);
            let v_max = values.iter().cloned().fold(0.0, f64::max).max(1.0);
            let plot_w = W - LEFT - 10.0;
            let _ = writeln!(
                out,
                "<rect x=\"{LEFT}\" y=\"{y0}\" width=\"{plot_w}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#999\"/>"
            );
            let _ = writeln!(out, "<text x=\"4\" y=\"{}\">{label}</text>", y0 + 12.0);
            let _ = writeln!(out, "<text x=\"4\" y=\"{}\">{v_max:.0}</text>", y0 + 26.0);
            let points: Vec<String> = self
                .samples
                .iter()
                .zip(values)
                .map(|(s, v)| {
                    let x = LEFT + s.t / t_max * plot_w;
                    let y = y0 + PANEL - v / v_max * PANEL;
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
                points.join(" ")
            );
        }
        let mut causes: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &self.samples {
            for (cause, n) in &s.failed {
                *causes.entry(cause).or_default() += n;
            }
        }
        if !causes.is_empty() {
            let list: Vec<String> = causes.iter().map(|(c, n)| format!("{c}: {n}")).collect();
            let _ = writeln!(
                out,
                "<text x=\"{LEFT}\" y=\"{}\">{}</text>",
                height - 8.0,
                escape(&list.join(", "))
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// Text for SVG: `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_four_lines_of_all_samples_and_names_the_failures() {
        let mut t = Timeline::default();
        for i in 1..=5 {
            t.push(Sample {
                t: i as f64,
                rate: 10.0,
                active: i,
                setup_p50_ms: 3.5,
                failed: if i == 3 {
                    BTreeMap::from([("503".to_owned(), 2), ("timeout".to_owned(), 1)])
                } else {
                    BTreeMap::new()
                },
            });
        }
        let svg = t.svg();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert_eq!(svg.matches("points=\"").count(), 4);
        assert!(svg.contains("503: 2, timeout: 1"), "{svg}");
        let f = t.failures();
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].t, f[0].failed["503"]), (3.0, 2));
        assert!(svg.contains(&format!("{:.1},", LEFT + 640.0 - LEFT - 10.0)));
    }
}
