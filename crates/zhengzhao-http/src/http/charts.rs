//! Charts drawn on the server as SVG (no script, no outside library):
//! stacked bars over time and horizontal bars. Each has a `<title>` and a
//! `<desc>` for screen readers, every value written as text or in each
//! part's tooltip, and a legend in text; the page puts the same numbers
//! in a table beside it. Text is escaped here: labels come from data.

use std::fmt::Write;

/// Colours of the series, each at least 4.5:1 against white (the legend's
/// squares carry no meaning the text does not).
const PALETTE: [&str; 8] = [
    "#0b4f9c", "#a64b00", "#1d6b2a", "#7b2e8e", "#b0221b", "#00656f", "#5c5c00", "#4a4a4a",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One named series of values, one per category.
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// Vertical bars, one per category (e.g. a month), each stacked from its
/// series; the total is written above each bar. `id` keeps the `<title>`
/// ids unique when a page has several charts.
pub fn stacked_bars(
    id: &str,
    title: &str,
    desc: &str,
    categories: &[String],
    series: &[Series],
) -> String {
    let (w, h, pad, bottom) = (720.0_f64, 260.0_f64, 30.0_f64, 40.0_f64);
    let totals: Vec<i64> = (0..categories.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = (w - 2.0 * pad) / categories.len().max(1) as f64;
    let legend_rows = series.len().div_ceil(4);
    let full_h = h + 22.0 * legend_rows as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {full_h}" width="100%" style="max-width:{w}px">
<title id="{id}-title">{title}</title>
<desc id="{id}-desc">{desc}</desc>
<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#333"/>
"##,
        title = escape(title),
        desc = escape(desc),
        y = h - bottom,
        x2 = w - pad
    );
    let scale = (h - bottom - pad) / max;
    // Labels thin out when the bars are narrow (a month of days).
    let label_every = (28.0 / slot).ceil().max(1.0) as usize;
    for (i, category) in categories.iter().enumerate() {
        let x = pad + i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let mut top = h - bottom;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let bh = v as f64 * scale;
            top -= bh;
            let _ = writeln!(
                svg,
                r##"<rect x="{x:.1}" y="{top:.1}" width="{bw:.1}" height="{bh:.1}" fill="{c}"><title>{cat} {name}：{v}</title></rect>"##,
                c = PALETTE[k % PALETTE.len()],
                cat = escape(category),
                name = escape(&s.name),
            );
        }
        if totals[i] > 0 {
            let _ = writeln!(
                svg,
                r##"<text x="{tx:.1}" y="{ty:.1}" font-size="12" text-anchor="middle" fill="#1a1a1a">{t}</text>"##,
                tx = x + bw / 2.0,
                ty = (top - 4.0).max(12.0),
                t = totals[i],
            );
        }
        // Counted from the last bar, so today's or this month's is labelled.
        if (categories.len() - 1 - i).is_multiple_of(label_every) {
            let _ = writeln!(
                svg,
                r##"<text x="{tx:.1}" y="{my:.1}" font-size="11" text-anchor="middle" fill="#1a1a1a">{label}</text>"##,
                tx = x + bw / 2.0,
                my = h - bottom + 16.0,
                label = escape(short(category)),
            );
        }
    }
    for (k, s) in series.iter().enumerate() {
        let (col, row) = ((k % 4) as f64, (k / 4) as f64);
        let (lx, ly) = (pad + col * 170.0, h + row * 22.0);
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.1}" y="{ry:.1}" width="12" height="12" fill="{c}"/><text x="{tx:.1}" y="{ly:.1}" font-size="12" fill="#1a1a1a">{name}</text>"##,
            ry = ly - 10.0,
            tx = lx + 16.0,
            c = PALETTE[k % PALETTE.len()],
            name = escape(&s.name),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `2026-12` → `26-12`; `2026-12-05` → `12-05`.
fn short(category: &str) -> &str {
    match category.len() {
        10 => category.get(5..).unwrap_or(category),
        7 => category.get(2..).unwrap_or(category),
        _ => category,
    }
}

/// Horizontal bars, one per row, its value written after it with `unit`.
pub fn horizontal_bars(
    id: &str,
    title: &str,
    desc: &str,
    rows: &[(String, i64)],
    unit: &str,
) -> String {
    let (w, label_w, row_h) = (720.0_f64, 200.0_f64, 28.0_f64);
    let h = row_h * rows.len().max(1) as f64 + 10.0;
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let span = w - label_w - 120.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px">
<title id="{id}-title">{title}</title>
<desc id="{id}-desc">{desc}</desc>
"##,
        title = escape(title),
        desc = escape(desc),
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let bw = (*v as f64 / max) * span;
        let _ = writeln!(
            svg,
            r##"<text x="{lx:.1}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#1a1a1a">{l}</text><rect x="{label_w}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{c}"><title>{l}：{v}{u}</title></rect><text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="#1a1a1a">{v}{u}</text>"##,
            lx = label_w - 8.0,
            ty = y + row_h * 0.6,
            bh = row_h * 0.7,
            c = if *v > 0 { PALETTE[4] } else { PALETTE[0] },
            vx = label_w + bw + 6.0,
            l = escape(label),
            u = escape(unit),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_totals_written() {
        let svg = stacked_bars(
            "c",
            "t",
            "d",
            &["2026-11".into(), "2026-12".into()],
            &[
                Series {
                    name: "<b>".into(),
                    values: vec![1, 2],
                },
                Series {
                    name: "x".into(),
                    values: vec![3, 0],
                },
            ],
        );
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains(">4</text>") && svg.contains(">2</text>"));
        let bars = horizontal_bars("o", "t", "d", &[("platform".into(), 12)], " 分钟");
        assert!(bars.contains(">12 分钟</text>"));
    }
}
