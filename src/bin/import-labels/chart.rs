//! `import-labels rounds --chart <file.svg>`: a transform's quality over its rounds as an SVG
//! chart. AUPRC, precision, recall and F1 against the label count, each point labeled with its
//! round (`R3`). A dashed line marks the first round after each replace (a new series, whose
//! labels start again: the metrics' lines break there), and a red line marks a round after
//! which the loop stopped, with the reason.
//!
//! Only rounds with metrics and a label count are drawn. A figure Glue left out stays out of
//! its line and is never drawn as 0. The chart is SVG only: PNG would need a font rasterizer.

use std::path::{Path, PathBuf};

use glue_label_importer::teaching::rounds::{Metrics, Round, Rounds, Stop};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A chart that cannot be drawn or written, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot write the chart to {path}: the chart is SVG (PNG and other formats are not supported); give a path that ends in .svg, e.g. --chart rounds.svg")]
    NotSvg { path: String },
    #[error("no round of {transform_id} has metrics and a label count yet, so there is nothing to chart; evaluate the transform first (`import-labels evaluate --transform-id {transform_id} --bucket <labels-bucket> --wait`), then run this again")]
    NothingToDraw { transform_id: String },
    #[error("cannot draw the chart: {0}; this is a bug in import-labels: report it with the rounds document (`import-labels rounds --transform-id <id> --bucket <labels-bucket>`)")]
    Draw(String),
    #[error("cannot write the chart to {path}: {source}; check that its folder exists and that you may write there, or give another --chart path")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The chart's size in pixels; the legend takes the right-hand `LEGEND` of it.
const SIZE: (u32, u32) = (1000, 600);
const LEGEND: u32 = 190;
const FONT: &str = "sans-serif";

/// One line of the chart: a figure of Glue's `FindMatchesMetrics`.
pub struct Metric {
    pub name: &'static str,
    pub color: RGBColor,
    figure: fn(&Metrics) -> Option<f64>,
}

/// The four lines, in legend order.
pub const METRICS: [Metric; 4] = [
    Metric {
        name: "AUPRC",
        color: RGBColor(0x1f, 0x77, 0xb4),
        figure: |m| m.area_under_pr_curve,
    },
    Metric {
        name: "Precision",
        color: RGBColor(0xff, 0x7f, 0x0e),
        figure: |m| m.precision,
    },
    Metric {
        name: "Recall",
        color: RGBColor(0x2c, 0xa0, 0x2c),
        figure: |m| m.recall,
    },
    Metric {
        name: "F1",
        color: RGBColor(0x94, 0x67, 0xbd),
        figure: |m| m.f1,
    },
];

/// The colour of the replace marks.
pub const REPLACE: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
/// The colour of the stop marks.
pub const STOPPED: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// A round the chart draws: its label count and its figures, in [`METRICS`] order.
struct Drawn<'a> {
    round: &'a Round,
    labels: i64,
    figures: [Option<f64>; 4],
}

/// The rounds the chart draws, in round order: those with a label count and at least one of
/// the four figures.
fn drawn(rounds: &Rounds) -> Vec<Drawn<'_>> {
    rounds
        .rounds
        .iter()
        .filter_map(|round| {
            let metrics = round.metrics.as_ref()?;
            let labels = round.label_count?;
            let figures = METRICS.map(|metric| (metric.figure)(metrics));
            figures.iter().any(Option::is_some).then_some(Drawn {
                round,
                labels,
                figures,
            })
        })
        .collect()
}

/// Refuses a path that is not an SVG file, before anything is fetched.
pub fn check(path: &Path) -> Result<(), ChartError> {
    let svg = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("svg"));
    if svg {
        Ok(())
    } else {
        Err(ChartError::NotSvg {
            path: path.display().to_string(),
        })
    }
}

/// A chart written to a file.
#[derive(Debug)]
pub struct Written {
    /// Where it is: absolute when the current folder is known, else as given.
    pub path: PathBuf,
    /// How many rounds it draws.
    pub rounds: usize,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.rounds == 1 { "" } else { "s" };
        write!(
            f,
            "wrote the quality chart of {} round{plural} to {}",
            self.rounds,
            self.path.display()
        )
    }
}

/// Draws the chart of `rounds` into the SVG file at `path`.
pub fn write(rounds: &Rounds, path: &Path) -> Result<Written, ChartError> {
    check(path)?;
    let svg = svg(rounds)?;
    std::fs::write(path, svg).map_err(|source| ChartError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Written {
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        rounds: drawn(rounds).len(),
    })
}

/// The chart of `rounds` as an SVG document.
pub fn svg(rounds: &Rounds) -> Result<String, ChartError> {
    let drawn = drawn(rounds);
    if drawn.is_empty() {
        return Err(ChartError::NothingToDraw {
            transform_id: rounds.transform_id.clone(),
        });
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, rounds, &drawn).map_err(|e| ChartError::Draw(e.to_string()))?;
        root.present()
            .map_err(|e| ChartError::Draw(e.to_string()))?;
    }
    Ok(out)
}

/// The x range: the label counts, with a margin so that no point sits on the frame.
fn x_range(drawn: &[Drawn]) -> (i64, i64) {
    let lo = drawn.iter().map(|d| d.labels).min().unwrap_or(0);
    let hi = drawn.iter().map(|d| d.labels).max().unwrap_or(0);
    let pad = ((hi - lo) / 12).max(hi.abs() / 20).max(1);
    (lo - pad, hi + pad)
}

/// The y range: 0 to 1, with room above 1 for the round labels (wider if a figure is outside).
fn y_range(drawn: &[Drawn]) -> (f64, f64) {
    let figures = drawn.iter().flat_map(|d| d.figures.iter().flatten());
    let lo = figures.clone().copied().fold(0.0, f64::min);
    let hi = figures.copied().fold(1.0, f64::max);
    (lo, hi + 0.08 * (hi - lo))
}

/// The short reason a round's stop mark shows.
fn stop_reason(stop: &Stop) -> String {
    match stop {
        Stop::TargetReached { auprc, target } => {
            format!("stopped: AUPRC {auprc:.4} reached TARGET_AUPRC {target}")
        }
        Stop::Plateau {
            rounds,
            delta,
            gain,
            ..
        } => format!(
            "stopped: plateau, AUPRC gained {gain:.4} (< PLATEAU_DELTA {delta}) over {rounds} rounds"
        ),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rounds: &Rounds,
    drawn: &[Drawn],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND);
    let (x_lo, x_hi) = x_range(drawn);
    let (y_lo, y_hi) = y_range(drawn);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("{}: quality by label count", rounds.transform_id),
            (FONT, 20),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
    chart
        .configure_mesh()
        .x_desc("labels (LabelCount)")
        .y_desc("figure")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;

    // Which side of a mark its text goes: towards the middle, so that it stays inside.
    let middle = (x_lo + x_hi) / 2;
    let side = |x: i64, v: VPos| {
        if x > middle {
            (Pos::new(HPos::Right, v), -5)
        } else {
            (Pos::new(HPos::Left, v), 5)
        }
    };

    // The replace and stop marks first, so that the lines and points are drawn over them.
    let first_series = rounds.rounds.first().map(|r| r.series);
    for (i, d) in drawn.iter().enumerate() {
        let series = d.round.series;
        let first_of_series = !drawn[..i].iter().any(|e| e.round.series == series);
        if first_of_series && Some(series) != first_series {
            chart.draw_series(DashedLineSeries::new(
                vec![(d.labels, y_lo), (d.labels, y_hi)],
                6,
                4,
                REPLACE.stroke_width(2),
            ))?;
            let (pos, dx) = side(d.labels, VPos::Top);
            chart.draw_series(std::iter::once(
                EmptyElement::at((d.labels, y_hi))
                    + Text::new(
                        format!("replace (series {series} from R{})", d.round.number),
                        (dx, 4),
                        TextStyle::from((FONT, 13).into_font())
                            .color(&REPLACE)
                            .pos(pos),
                    ),
            ))?;
        }
        // The round after which the loop stopped: the first of its series with a stop (a
        // plateau that goes on sets it again on later rounds).
        let stopped_before = rounds
            .rounds
            .iter()
            .any(|r| r.series == series && r.number < d.round.number && r.stopped.is_some());
        if let (Some(stop), false) = (&d.round.stopped, stopped_before) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(d.labels, y_lo), (d.labels, y_hi)],
                STOPPED.stroke_width(2),
            )))?;
            let (pos, dx) = side(d.labels, VPos::Bottom);
            chart.draw_series(std::iter::once(
                EmptyElement::at((d.labels, y_lo))
                    + Text::new(
                        format!("R{} {}", d.round.number, stop_reason(stop)),
                        (dx, -6),
                        TextStyle::from((FONT, 13).into_font())
                            .color(&STOPPED)
                            .pos(pos),
                    ),
            ))?;
        }
    }

    // One line per metric and series: a replace reset the labels, so no line joins the last
    // round before it to the first after it.
    for (m, metric) in METRICS.iter().enumerate() {
        for series in drawn.chunk_by(|a, b| a.round.series == b.round.series) {
            let points: Vec<(i64, f64)> = series
                .iter()
                .filter_map(|d| d.figures[m].map(|y| (d.labels, y)))
                .collect();
            if points.is_empty() {
                continue;
            }
            chart.draw_series(std::iter::once(PathElement::new(
                points.clone(),
                metric.color.stroke_width(2),
            )))?;
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, metric.color.filled())),
            )?;
        }
    }

    // Each round's label above its highest point; rounds at the same label count stack.
    let label = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, d) in drawn.iter().enumerate() {
        let top = d
            .figures
            .iter()
            .flatten()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let below = drawn[..i].iter().filter(|e| e.labels == d.labels).count();
        let dy = -8 - 15 * i32::try_from(below).unwrap_or(0);
        chart.draw_series(std::iter::once(
            EmptyElement::at((d.labels, top))
                + Text::new(format!("R{}", d.round.number), (0, dy), label.clone()),
        ))?;
    }

    draw_legend(&legend)
}

/// The legend, beside the plot: a swatch per metric, then the two marks.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 70;
    for metric in &METRICS {
        area.draw(&Rectangle::new(
            [(8, y - 5), (28, y + 5)],
            metric.color.filled(),
        ))?;
        area.draw(&Text::new(metric.name, (36, y), text.clone()))?;
        y += 24;
    }
    y += 12;
    for x in [8, 18] {
        area.draw(&Rectangle::new(
            [(x, y - 1), (x + 6, y + 1)],
            REPLACE.filled(),
        ))?;
    }
    area.draw(&Text::new("replace", (36, y), text.clone()))?;
    y += 24;
    area.draw(&Rectangle::new([(8, y - 1), (28, y + 1)], STOPPED.filled()))?;
    area.draw(&Text::new("loop stopped", (36, y), text.clone()))?;
    y += 24;
    area.draw(&Text::new("R<n>: round n", (8, y), text))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use glue_label_importer::teaching::rounds::{CoveredImport, Parameters, StopRule};

    /// Six rounds: series 1 (rounds 1–3, round 2 without precision), a replace, then series 2
    /// (round 4 FAILED, rounds 5–6), the loop stopped after round 6 (its AUPRC reached the
    /// target).
    pub(crate) fn sample() -> Rounds {
        let mut rounds = Rounds::new("tfm-1");
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let rule = StopRule {
            target_auprc: Some(0.95),
            ..StopRule::default()
        };
        let figures: [(bool, i64, [Option<f64>; 4]); 6] = [
            (false, 100, [Some(0.62), Some(0.70), Some(0.55), Some(0.61)]),
            (false, 200, [Some(0.74), None, Some(0.66), Some(0.71)]),
            (false, 300, [Some(0.81), Some(0.84), Some(0.75), Some(0.79)]),
            (true, 0, [None; 4]),
            (false, 150, [Some(0.86), Some(0.88), Some(0.80), Some(0.84)]),
            (false, 250, [Some(0.96), Some(0.95), Some(0.91), Some(0.93)]),
        ];
        for (n, (replace, labels, [auprc, precision, recall, f1])) in
            figures.into_iter().enumerate()
        {
            rounds.note_import(
                CoveredImport {
                    key: format!("labels/tfm-1/round-{n}.csv"),
                    task_run_id: format!("tsk-{n}"),
                    replace_all_labels: replace,
                    completed_on: None,
                },
                at,
            );
            let number = rounds.open_round(at);
            if replace {
                rounds.record_failed(number, "FAILED", Some("Dependency failure.".into()));
                continue;
            }
            let metrics = Metrics {
                area_under_pr_curve: auprc,
                precision,
                recall,
                f1,
                ..Metrics::default()
            };
            rounds.record_evaluated(number, Some(labels), Parameters::default(), metrics, &rule);
        }
        rounds
    }

    fn hex(color: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
    }

    fn texts<'a>(doc: &'a roxmltree::Document) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect()
    }

    #[test]
    fn the_sample_is_what_the_tests_expect() {
        let rounds = sample();
        let series: Vec<(u32, u32)> = rounds.rounds.iter().map(|r| (r.number, r.series)).collect();
        assert_eq!(series, [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]);
        let stopped: Vec<u32> = rounds
            .rounds
            .iter()
            .filter(|r| r.stopped.is_some())
            .map(|r| r.number)
            .collect();
        assert_eq!(stopped, [6]);
    }

    /// The vertices of an SVG `points` attribute.
    fn vertices(points: &str) -> Vec<(String, String)> {
        points
            .split_whitespace()
            .filter_map(|xy| xy.split_once(','))
            .map(|(x, y)| (x.to_string(), y.to_string()))
            .collect()
    }

    #[test]
    fn the_chart_is_svg_with_a_line_per_metric_and_series_and_a_point_per_round() {
        let svg = svg(&sample()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert_eq!(
            doc.root_element().tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        // Drawn: rounds 1, 2, 3 (series 1) and 5, 6 (series 2; round 4 FAILED). Round 2 has
        // no precision: it is left out of that line, not drawn as 0.
        let expected = [
            ("AUPRC", [3, 2]),
            ("Precision", [2, 2]),
            ("Recall", [3, 2]),
            ("F1", [3, 2]),
        ];
        let mut points = 0;
        for (metric, (name, per_series)) in METRICS.iter().zip(expected) {
            assert_eq!(metric.name, name);
            let color = hex(metric.color);
            let lines: Vec<Vec<(String, String)>> = doc
                .descendants()
                .filter(|n| n.has_tag_name("polyline"))
                .filter(|n| n.attribute("stroke") == Some(color.as_str()))
                .filter_map(|n| n.attribute("points"))
                .map(vertices)
                .collect();
            let counts: Vec<usize> = lines.iter().map(Vec::len).collect();
            assert_eq!(
                counts, per_series,
                "{name}: a line per series, a vertex per round"
            );
            let mut centers: Vec<(String, String)> = doc
                .descendants()
                .filter(|n| n.has_tag_name("circle"))
                .filter(|n| n.attribute("fill") == Some(color.as_str()))
                .filter_map(|n| {
                    Some((
                        n.attribute("cx")?.to_string(),
                        n.attribute("cy")?.to_string(),
                    ))
                })
                .collect();
            let mut on_lines: Vec<(String, String)> = lines.concat();
            centers.sort();
            on_lines.sort();
            assert_eq!(
                centers, on_lines,
                "{name}: a point at each vertex, and no other"
            );
            points += centers.len();
        }
        let circles = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(
            (points, circles),
            (5 + 4 + 5 + 5, 5 + 4 + 5 + 5),
            "no other points"
        );
        let texts = texts(&doc);
        for name in ["AUPRC", "Precision", "Recall", "F1"] {
            assert_eq!(
                texts.iter().filter(|t| **t == name).count(),
                1,
                "{name} in the legend: {texts:?}"
            );
        }
    }

    #[test]
    fn a_figure_glue_left_out_is_not_drawn_as_0() {
        let svg = svg(&sample()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let cx_of = |color: RGBColor| -> Vec<String> {
            doc.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .filter(|n| n.attribute("fill") == Some(hex(color).as_str()))
                .filter_map(|n| n.attribute("cx").map(str::to_string))
                .collect()
        };
        let auprc = cx_of(METRICS[0].color);
        let precision = cx_of(METRICS[1].color);
        assert_eq!(auprc.len(), 5);
        assert!(
            !precision.contains(&auprc[1]),
            "no precision point at round 2's label count"
        );
        // Every point is at 0.55 or more: none sits on the x axis (0), the lowest of them all.
        let ys: Vec<i64> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .filter_map(|n| n.attribute("cy")?.parse().ok())
            .collect();
        let recall_r1: i64 = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .filter(|n| n.attribute("fill") == Some(hex(METRICS[2].color).as_str()))
            .filter_map(|n| n.attribute("cy")?.parse().ok())
            .max()
            .unwrap();
        assert_eq!(
            ys.iter().max(),
            Some(&recall_r1),
            "the lowest point is round 1's recall, 0.55"
        );
    }

    #[test]
    fn each_drawn_round_is_labeled_and_the_replace_and_the_stop_are_marked() {
        let svg = svg(&sample()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts = texts(&doc);
        let labels: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.len() <= 3 && t.starts_with('R'))
            .collect();
        assert_eq!(labels, ["R1", "R2", "R3", "R5", "R6"], "{texts:?}");
        // Round 4 (FAILED) opened series 2; round 5 is its first drawn round.
        let replaces: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.starts_with("replace ("))
            .collect();
        assert_eq!(replaces, ["replace (series 2 from R5)"]);
        let dashes = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .filter(|n| n.attribute("stroke") == Some(hex(REPLACE).as_str()))
            .count();
        assert!(dashes > 1, "a dashed line: {dashes} dashes");
        let stops: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.contains("stopped:"))
            .collect();
        assert_eq!(
            stops,
            ["R6 stopped: AUPRC 0.9600 reached TARGET_AUPRC 0.95"]
        );
        let stop_lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .filter(|n| n.attribute("stroke") == Some(hex(STOPPED).as_str()))
            .count();
        assert_eq!(stop_lines, 1);
    }

    #[test]
    fn the_replace_and_stop_marks_sit_at_their_rounds_label_counts() {
        let svg = svg(&sample()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        // The x pixel of each round's AUPRC point, by its label.
        let auprc = hex(METRICS[0].color);
        let xs: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(auprc.as_str()))
            .filter_map(|n| n.attribute("cx"))
            .collect();
        assert_eq!(xs.len(), 5);
        let x_of = |color: RGBColor| -> Vec<String> {
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline"))
                .filter(|n| n.attribute("stroke") == Some(hex(color).as_str()))
                .filter_map(|n| n.attribute("points"))
                .flat_map(|p| {
                    p.split_whitespace()
                        .map(|xy| xy.split(',').next().unwrap_or("").to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let replace = x_of(REPLACE);
        assert!(
            replace.iter().all(|x| x == xs[3]),
            "at round 5's label count ({}): {replace:?}",
            xs[3]
        );
        let stop = x_of(STOPPED);
        assert_eq!(stop, [xs[4], xs[4]], "at round 6's label count");
    }

    #[test]
    fn a_round_without_metrics_is_not_drawn_and_nothing_to_draw_is_an_error() {
        let mut rounds = sample();
        rounds.rounds.retain(|r| r.metrics.is_none());
        let err = svg(&rounds).unwrap_err();
        assert!(matches!(err, ChartError::NothingToDraw { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("import-labels evaluate --transform-id tfm-1"),
            "{err}"
        );
        assert!(matches!(
            svg(&Rounds::new("tfm-1")),
            Err(ChartError::NothingToDraw { .. })
        ));
    }

    #[test]
    fn only_svg_paths_are_accepted() {
        assert!(check(Path::new("rounds.svg")).is_ok());
        assert!(check(Path::new("/tmp/x/Rounds.SVG")).is_ok());
        for path in ["rounds.png", "rounds", "svg", "rounds.svg.txt"] {
            let err = check(Path::new(path)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("cannot write the chart to {path}: the chart is SVG (PNG and other formats are not supported); give a path that ends in .svg, e.g. --chart rounds.svg")
            );
        }
    }

    #[test]
    fn write_puts_the_svg_in_the_file_and_says_how_many_rounds() {
        let dir = std::env::temp_dir().join(format!("import-labels-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rounds.svg");
        let written = write(&sample(), &path).unwrap();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        let missing = write(&sample(), &dir.join("no-such-folder/rounds.svg")).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(on_disk, svg(&sample()).unwrap());
        assert_eq!(written.rounds, 5);
        assert_eq!(
            written.to_string(),
            format!("wrote the quality chart of 5 rounds to {}", path.display())
        );
        assert!(
            matches!(missing, ChartError::Write { .. })
                && missing.to_string().contains("check that its folder exists"),
            "{missing}"
        );
    }
}
