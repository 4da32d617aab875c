//! The plot: for each service, the share of calls taking at least x ms, per configuration, on
//! log-log axes (the tail is the right-hand end of each line).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Service;

const COLORS: [RGBColor; 4] = [
    RGBColor(120, 120, 120),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Writes one panel per service, side by side.
pub fn plot(path: &Path, services: &[Service]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (600 * services.len() as u32, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, service) in root.split_evenly((1, services.len())).iter().zip(services) {
        panel(area, service)?;
    }
    root.present()?;
    Ok(())
}

/// The share of calls taking at least each distinct latency (`latencies` sorted).
fn at_least(latencies: &[u64]) -> Vec<(f64, f64)> {
    let n = latencies.len() as f64;
    let mut points = Vec::new();
    for (i, &ms) in latencies.iter().enumerate() {
        if i == 0 || latencies[i - 1] != ms {
            points.push((ms.max(1) as f64, (latencies.len() - i) as f64 / n));
        }
    }
    points
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    service: &Service,
) -> Result<(), Box<dyn std::error::Error>> {
    let x_max = service
        .outcomes
        .iter()
        .filter_map(|o| o.latencies.last())
        .copied()
        .max()
        .unwrap_or(1) as f64
        * 1.2;
    let y_min = 0.5 / service.outcomes[0].latencies.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: share of calls taking at least x", service.model.name),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..1.2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("share of calls")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (outcome, color) in service.outcomes.iter().zip(COLORS) {
        chart
            .draw_series(LineSeries::new(
                at_least(&outcome.latencies),
                color.stroke_width(2),
            ))?
            .label(outcome.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
