//! Line charts as SVG, written by hand (no plotting dependency): x and y
//! linear or log10, one polyline with markers per series, error bars
//! (min..max over repetitions), a legend. Points that could not be
//! measured are simply absent.

use std::fmt::Write;

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// (x, median y, min y, max y).
    pub points: Vec<(f64, f64, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    /// Tick labels for x at given values (None: automatic).
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub series: Vec<Series>,
}

const W: f64 = 720.0;
const H: f64 = 440.0;
const L: f64 = 80.0;
const R: f64 = 170.0;
const T: f64 = 40.0;
const B: f64 = 60.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

fn tr(v: f64, log: bool) -> f64 {
    if log {
        v.max(1e-12).log10()
    } else {
        v
    }
}

/// "1.5k", "20", "0.25", "3M".
pub fn short(v: f64) -> String {
    let a = v.abs();
    let (x, suf) = if a >= 1e6 { (v / 1e6, "M") } else if a >= 1e3 { (v / 1e3, "k") } else { (v, "") };
    let s = if x.abs() >= 100.0 || x.fract() == 0.0 { format!("{x:.0}") } else if x.abs() >= 10.0 { format!("{x:.1}") } else { format!("{x:.2}") };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{suf}")
}

fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if log {
        let (a, b) = (lo.floor() as i32, hi.ceil() as i32);
        (a..=b).map(|e| 10f64.powi(e)).collect()
    } else {
        let span = (hi - lo).max(1e-9);
        let raw = span / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= 6.0).unwrap_or(mag * 10.0);
        let mut v = Vec::new();
        let mut x = (lo / step).floor() * step;
        while x <= hi + step * 0.01 {
            v.push(x);
            x += step;
        }
        v
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Chart {
    pub fn svg(&self) -> String {
        let pts: Vec<&(f64, f64, f64, f64)> = self.series.iter().flat_map(|s| s.points.iter()).filter(|p| p.1.is_finite()).collect();
        let mut s = String::new();
        let _ = write!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#);
        let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#, (L + W - R) / 2.0, esc(&self.title));
        if pts.is_empty() {
            let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="middle">no data</text></svg>"#, W / 2.0, H / 2.0);
            return s;
        }
        let xs: Vec<f64> = pts.iter().map(|p| tr(p.0, self.x_log)).collect();
        let ys: Vec<f64> = pts.iter().flat_map(|p| [tr(p.1, self.y_log), tr(p.2.max(if self.y_log { p.1 / 1e3 } else { f64::MIN }), self.y_log), tr(p.3, self.y_log)]).filter(|v| v.is_finite()).collect();
        let (mut x0, mut x1) = (xs.iter().cloned().fold(f64::MAX, f64::min), xs.iter().cloned().fold(f64::MIN, f64::max));
        let (mut y0, mut y1) = (ys.iter().cloned().fold(f64::MAX, f64::min), ys.iter().cloned().fold(f64::MIN, f64::max));
        if self.y_log {
            y0 = y0.floor();
            y1 = y1.ceil();
        } else {
            y0 = y0.min(0.0);
            y1 *= 1.08;
        }
        if (x1 - x0).abs() < 1e-9 {
            x0 -= 0.5;
            x1 += 0.5;
        }
        if (y1 - y0).abs() < 1e-9 {
            y1 = y0 + 1.0;
        }
        let pad = (x1 - x0) * 0.05;
        let (x0, x1) = (x0 - pad, x1 + pad);
        let px = |x: f64| L + (tr(x, self.x_log) - x0) / (x1 - x0) * (W - L - R);
        let py = |y: f64| H - B - (tr(y, self.y_log) - y0) / (y1 - y0) * (H - T - B);
        let _ = write!(s, r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#444"/>"##, W - L - R, H - T - B);
        // y ticks
        let yt = ticks(y0, y1, self.y_log);
        for v in yt {
            let real = if self.y_log { v } else { v };
            let yv = if self.y_log { real } else { real };
            let y = py(yv);
            if !(T - 0.5..=H - B + 0.5).contains(&y) {
                continue;
            }
            let _ = write!(s, r##"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##, W - R, L - 6.0, y + 4.0, short(yv));
        }
        // x ticks
        let xt: Vec<(f64, String)> = match &self.x_ticks {
            Some(t) => t.clone(),
            None => ticks(x0, x1, self.x_log).into_iter().map(|v| (v, short(v))).collect(),
        };
        for (v, label) in xt {
            let x = px(v);
            if !(L - 0.5..=W - R + 0.5).contains(&x) {
                continue;
            }
            let _ = write!(s, r##"<line x1="{x:.1}" x2="{x:.1}" y1="{T}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##, H - B, H - B + 16.0, esc(&label));
        }
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, (L + W - R) / 2.0, H - 18.0, esc(&self.x_label));
        let _ = write!(s, r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">{}</text>"#, (T + H - B) / 2.0, (T + H - B) / 2.0, esc(&self.y_label));
        for (i, ser) in self.series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let mut p: Vec<&(f64, f64, f64, f64)> = ser.points.iter().filter(|p| p.1.is_finite() && (!self.y_log || p.1 > 0.0)).collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !p.is_empty() {
                let path: Vec<String> = p.iter().map(|q| format!("{:.1},{:.1}", px(q.0), py(q.1))).collect();
                let _ = write!(s, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#, path.join(" "));
                for q in &p {
                    let (x, y) = (px(q.0), py(q.1));
                    if q.3 > q.2 && (!self.y_log || q.2 > 0.0) {
                        let _ = write!(s, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}"/>"#, py(q.2), py(q.3));
                    }
                    let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{c}"/>"#);
                }
            }
            let ly = T + 16.0 + i as f64 * 20.0;
            let _ = write!(s, r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#, W - R + 12.0, W - R + 34.0, W - R + 40.0, ly + 4.0, esc(&ser.name));
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_log_log_chart() {
        let c = Chart {
            title: "t".into(),
            x_label: "size".into(),
            y_label: "µs".into(),
            x_log: true,
            y_log: true,
            x_ticks: None,
            series: vec![
                Series { name: "a".into(), points: vec![(1024.0, 10.0, 9.0, 11.0), (1e7, 1000.0, 900.0, 1100.0)] },
                Series { name: "b<".into(), points: vec![(1024.0, f64::NAN, 0.0, 0.0)] },
            ],
        };
        let s = c.svg();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n") && s.contains("polyline") && s.contains("b&lt;"));
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(10_485_760.0), "10.5M");
        assert_eq!(short(0.25), "0.25");
        assert!(Chart { series: vec![], ..c }.svg().contains("no data"));
    }
}
