//! The curve charts: scalability, bandwidth limits, error rate, pool size,
//! chunk size.

use super::Drawn;
use super::chart::{Axes, GREY, PALETTE, Res, Series, XScale, lin_top, lines, log_bounds, svg};
use crate::report::BenchmarkResult;
use crate::scenario::MIB;
use crate::suite::legacy::Estimate;
use crate::suite::{Curve, SuiteReport};
use plotters::prelude::{IntoLogRange, SeriesLabelPosition};

fn curve<'a>(r: &'a SuiteReport, name: &str) -> Res<&'a Curve> {
    r.extended_sweeps.iter().find(|c| c.name == name).ok_or_else(|| format!("no extended sweep {name:?}").into())
}

fn seed_result<'a>(r: &'a SuiteReport, name: &str) -> Res<&'a BenchmarkResult> {
    r.detailed_results.iter().find(|x| x.name == name).ok_or_else(|| format!("no result {name:?}").into())
}

fn legacy(res: &BenchmarkResult) -> Res<Estimate> {
    let v = res.metadata.extra.get("legacy_estimate").ok_or("result without legacy_estimate")?;
    Ok(serde_json::from_value(v.clone())?)
}

fn pts(c: &Curve, fx: impl Fn(f64) -> f64, fy: impl Fn(&BenchmarkResult) -> f64) -> Vec<(f64, f64)> {
    c.x.iter().zip(&c.results).map(|(x, r)| (fx(*x), fy(r))).collect()
}

fn ys(series: &[Series]) -> impl Iterator<Item = f64> + '_ {
    series.iter().flat_map(|s| s.points.iter().map(|p| p.1))
}

pub fn scalability(r: &SuiteReport) -> Drawn {
    let nets = [
        ("concurrency_lan", "LAN: 10 Gbit/s, RTT 0.5 ms"),
        ("concurrency_fast_wan", "fast WAN: 1 Gbit/s, RTT 20 ms, 25 MiB/s per conn"),
        ("concurrency_slow_wan", "slow WAN: 100 Mbit/s, RTT 150 ms, 256 KiB window"),
    ];
    let mut series = Vec::new();
    for (i, (name, label)) in nets.iter().enumerate() {
        series.push(Series::line(*label, pts(curve(r, name)?, f64::log2, |x| x.throughput_mbps), PALETTE[i]));
    }
    let mut seed = Vec::new();
    for res in r.detailed_results.iter().filter(|x| x.name.starts_with("scalability_")) {
        seed.push(((res.concurrent_downloads as f64).log2(), res.throughput_mbps));
    }
    series.push(Series { dashed: false, ..Series::line("seed family: min(3c, 20) files, fast WAN", seed, PALETTE[4]) });
    let fast = curve(r, "concurrency_fast_wan")?;
    let mut old = Vec::new();
    for (x, res) in fast.x.iter().zip(&fast.results) {
        old.push((x.log2(), legacy(res)?.throughput_mbps));
    }
    series.push(Series::dashed("legacy formula: 10 MiB/s per download, any network", old, GREY));
    let y = log_bounds(ys(&series), 1.8).log_scale();
    let axes = Axes {
        title: "Throughput vs concurrency (512 files of 1-10 MiB)",
        x_desc: "concurrent downloads",
        y_desc: "throughput (MiB/s, log)",
        x: -0.3..8.3,
        x_scale: XScale::Log2,
        legend: SeriesLabelPosition::LowerRight,
    };
    svg((900, 560), |root| lines(root, &axes, y, &series))
}

pub fn bandwidth_limit(r: &SuiteReport) -> Drawn {
    let mib = MIB as f64;
    let sets = [("limit_server", "server egress limit (as the Python suite)"), ("limit_client", "client token bucket")];
    let mut achieved = Vec::new();
    let mut ratio = Vec::new();
    for (i, (name, label)) in sets.iter().enumerate() {
        let c = curve(r, name)?;
        let lx = |x: f64| (x / mib).log2();
        achieved.push(Series::line(*label, pts(c, lx, |x| x.throughput_mbps), PALETTE[i]));
        let rp = c.x.iter().zip(&c.results).map(|(x, res)| (lx(*x), 100.0 * res.throughput_mbps * mib / x)).collect();
        ratio.push(Series::line(*label, rp, PALETTE[i]));
    }
    let xs: Vec<f64> = curve(r, "limit_server")?.x.iter().map(|x| (x / mib).log2()).collect();
    achieved.push(Series::dashed("achieved = configured", xs.iter().map(|x| (*x, 2f64.powf(*x))).collect(), GREY));
    let (x0, x1) = (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(0.0, f64::max));
    ratio.push(Series::dashed("±2 %", vec![(x0, 98.0), (x1, 98.0)], GREY));
    ratio.push(Series::dashed("", vec![(x0, 102.0), (x1, 102.0)], GREY));
    let y_ach = log_bounds(ys(&achieved), 1.5).log_scale();
    let lo = ys(&ratio).fold(96.0, f64::min) - 2.0;
    let hi = ys(&ratio).fold(104.0, f64::max) + 4.0;
    let x = x0 - 0.3..x1 + 0.3;
    svg((1100, 500), |root| {
        let panels = root.split_evenly((1, 2));
        let a = Axes {
            title: "Achieved vs configured limit (20 files, 4 concurrent)",
            x_desc: "configured limit (MiB/s, log2)",
            y_desc: "achieved throughput (MiB/s, log)",
            x: x.clone(),
            x_scale: XScale::Log2,
            legend: SeriesLabelPosition::UpperLeft,
        };
        lines(&panels[0], &a, y_ach, &achieved)?;
        let b = Axes {
            title: "Achieved / configured",
            y_desc: "achieved / configured (%)",
            legend: SeriesLabelPosition::UpperLeft,
            ..a
        };
        lines(&panels[1], &b, lo..hi, &ratio)
    })
}

pub fn error_rate(r: &SuiteReport) -> Drawn {
    let c = curve(r, "error_rate")?;
    let pct = |x: f64| 100.0 * x;
    let success = vec![Series::line("success rate", pts(c, pct, |x| 100.0 * x.success_rate), PALETTE[2])];
    let retries = vec![Series::line("retries", pts(c, pct, |x| x.metadata.retries as f64), PALETTE[1])];
    let mut old = Vec::new();
    for (x, res) in c.x.iter().zip(&c.results) {
        old.push((pct(*x), legacy(res)?.duration_s));
    }
    let duration = vec![
        Series::line("modelled (backoff 1, 2, 4, 8 s)", pts(c, pct, |x| x.duration), PALETTE[0]),
        Series::dashed("legacy formula", old, GREY),
    ];
    let s_lo = ys(&success).fold(100.0, f64::min);
    svg((1200, 420), |root| {
        let p = root.split_evenly((1, 3));
        let mut a = Axes {
            title: "Success rate (200 small files)",
            x_desc: "error rate (%)",
            y_desc: "files completed (%)",
            x: -1.0..51.0,
            x_scale: XScale::Linear,
            legend: SeriesLabelPosition::LowerLeft,
        };
        lines(&p[0], &a, (s_lo - 1.0).floor()..100.5, &success)?;
        a.title = "Retries";
        a.y_desc = "retries";
        a.legend = SeriesLabelPosition::UpperLeft;
        lines(&p[1], &a, lin_top(ys(&retries), 1.0), &retries)?;
        a.title = "Duration";
        a.y_desc = "duration (s)";
        lines(&p[2], &a, lin_top(ys(&duration), 1.0), &duration)
    })
}

pub fn pool_size(r: &SuiteReport) -> Drawn {
    let c = curve(r, "pool_size")?;
    let counts = vec![
        Series::line("handshakes (new connections)", pts(c, f64::log2, |x| x.metadata.handshakes as f64), PALETTE[0]),
        Series::line(
            "overflow connections discarded",
            pts(c, f64::log2, |x| x.metadata.pool_overflow_discarded as f64),
            PALETTE[3],
        ),
    ];
    let time = vec![Series::line("duration", pts(c, f64::log2, |x| x.duration * 1000.0), PALETTE[2])];
    let x = -0.3..(c.x.iter().copied().fold(1.0, f64::max).log2() + 0.3);
    svg((1100, 460), |root| {
        let p = root.split_evenly((1, 2));
        let a = Axes {
            title: "Connections vs pool size (5 models x 10 files, 8 concurrent)",
            x_desc: "pool size (idle connections kept)",
            y_desc: "connections",
            x: x.clone(),
            x_scale: XScale::Log2,
            legend: SeriesLabelPosition::UpperRight,
        };
        lines(&p[0], &a, lin_top(ys(&counts), 1.0), &counts)?;
        let b = Axes { title: "Time vs pool size", y_desc: "duration (ms)", ..a };
        let lo = ys(&time).fold(f64::INFINITY, f64::min) * 0.9;
        lines(&p[1], &b, lo..ys(&time).fold(0.0, f64::max) * 1.05, &time)
    })
}

pub fn chunk_size(r: &SuiteReport) -> Drawn {
    let c = curve(r, "chunk_size")?;
    let adaptive = seed_result(r, "adaptive_chunking_enabled")?;
    let x0 = c.x.iter().copied().fold(f64::INFINITY, f64::min).log2();
    let x1 = c.x.iter().copied().fold(0.0, f64::max).log2();
    let flat = |y: f64| vec![(x0, y), (x1, y)];
    let time = vec![
        Series::line("fixed-size Range requests", pts(c, f64::log2, |x| x.duration), PALETTE[0]),
        Series::dashed("adaptive table (adaptive_chunking_enabled)", flat(adaptive.duration), PALETTE[3]),
    ];
    let reqs = vec![
        Series::line("fixed-size Range requests", pts(c, f64::log2, |x| x.metadata.requests as f64), PALETTE[1]),
        Series::dashed("adaptive table", flat(adaptive.metadata.requests as f64), PALETTE[3]),
    ];
    let x = x0 - 0.3..x1 + 0.3;
    svg((1100, 460), |root| {
        let p = root.split_evenly((1, 2));
        let a = Axes {
            title: "Time vs chunk size (3 files of 100-367 MiB)",
            x_desc: "request size (bytes, log2)",
            y_desc: "duration (s)",
            x: x.clone(),
            x_scale: XScale::Log2Bytes,
            legend: SeriesLabelPosition::UpperRight,
        };
        lines(&p[0], &a, lin_top(ys(&time), 1.0), &time)?;
        let b = Axes { title: "Requests vs chunk size", y_desc: "requests (log)", ..a };
        lines(&p[1], &b, log_bounds(ys(&reqs), 1.5).log_scale(), &reqs)
    })
}
