//! The curve charts: scalability, bandwidth limits, error rate, pool size,
//! Range-request chunk size. Each family's legacy curve is what the Python
//! suite slept for it (`metadata.legacy_duration_s`).

use super::Drawn;
use super::chart::{Axes, GREY, PALETTE, Res, Series, bytes_label, lin_top, lines, log_bounds, num, svg};
use crate::report::BenchmarkResult;
use crate::scenario::MIB;
use crate::suite::{Curve, SuiteReport};
use plotters::prelude::{IntoLogRange, SeriesLabelPosition};

fn curve<'a>(r: &'a SuiteReport, name: &str) -> Res<&'a Curve> {
    r.extended_sweeps.iter().find(|c| c.name == name).ok_or_else(|| format!("no extended sweep {name:?}").into())
}

fn seed_result<'a>(r: &'a SuiteReport, name: &str) -> Res<&'a BenchmarkResult> {
    r.detailed_results.iter().find(|x| x.name == name).ok_or_else(|| format!("no result {name:?}").into())
}

/// The family's results, in report order.
fn family<'a>(r: &'a SuiteReport, name: &str) -> Vec<&'a BenchmarkResult> {
    r.detailed_results
        .iter()
        .filter(|x| x.metadata.extra.get("family").and_then(|v| v.as_str()) == Some(name))
        .collect()
}

fn extra(res: &BenchmarkResult, key: &str) -> Res<f64> {
    res.metadata
        .extra
        .get(key)
        .and_then(|v| v.as_f64())
        .ok_or_else(|| format!("{}: no metadata.{key}", res.name).into())
}

fn pts(c: &Curve, fx: impl Fn(f64) -> f64, fy: impl Fn(&BenchmarkResult) -> f64) -> Vec<(f64, f64)> {
    c.x.iter().zip(&c.results).map(|(x, r)| (fx(*x), fy(r))).collect()
}

fn ys(series: &[Series]) -> impl Iterator<Item = f64> + '_ {
    series.iter().flat_map(|s| s.points.iter().map(|p| p.1))
}

fn span(xs: &[f64]) -> std::ops::Range<f64> {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lo..hi
}

pub fn scalability(r: &SuiteReport) -> Drawn {
    let nets = [
        ("concurrency_lan", "LAN: 10 Gbit/s, RTT 0.5 ms (512 files)"),
        ("concurrency_fast_wan", "fast WAN: 1 Gbit/s, RTT 20 ms, 25 MiB/s per conn (512 files)"),
        ("concurrency_slow_wan", "slow WAN: 100 Mbit/s, RTT 150 ms, 256 KiB window (512 files)"),
    ];
    let mut series = Vec::new();
    for (i, (name, label)) in nets.iter().enumerate() {
        series.push(Series::line(*label, pts(curve(r, name)?, f64::log2, |x| x.throughput_mbps), PALETTE[i]));
    }
    let (mut seed, mut old) = (Vec::new(), Vec::new());
    for res in family(r, "scalability") {
        let x = (res.concurrent_downloads as f64).log2();
        seed.push((x, res.throughput_mbps));
        old.push((x, extra(res, "legacy_throughput_mbps")?));
    }
    series.push(Series::line("scalability family: min(3c, 20) files, fast WAN", seed, PALETTE[4]));
    series.push(Series::dashed("legacy (scalability family): slept min(bytes / (20 MiB/s c eff), 20 s)", old, GREY));
    let y = log_bounds(ys(&series), 1.8).log_scale();
    let cs: Vec<f64> = curve(r, "concurrency_fast_wan")?.x.clone();
    let x = span(&cs.iter().map(|c| c.log2()).collect::<Vec<_>>());
    let axes = Axes::new(
        "Throughput vs concurrency",
        "concurrent downloads",
        "throughput (MiB/s, log)",
        x.start - 0.3..x.end + 0.3,
    )
    .ticks(&cs, f64::log2, num)
    .legend(SeriesLabelPosition::LowerRight);
    svg((900, 560), |root| lines(root, &axes, y, &series))
}

pub fn bandwidth_limit(r: &SuiteReport) -> Drawn {
    let mib = MIB as f64;
    let lx = |x: f64| (x / mib).log2();
    let sets = [("limit_server", "server egress limit, 20 files"), ("limit_client", "client token bucket, 20 files")];
    let mut achieved = Vec::new();
    let mut ratio = Vec::new();
    for (i, (name, label)) in sets.iter().enumerate() {
        let c = curve(r, name)?;
        achieved.push(Series::line(*label, pts(c, lx, |x| x.throughput_mbps), PALETTE[i]));
        let rp = c.x.iter().zip(&c.results).map(|(x, res)| (lx(*x), 100.0 * res.throughput_mbps * mib / x)).collect();
        ratio.push(Series::line(*label, rp, PALETTE[i]));
    }
    let (mut fam, mut fam_ratio, mut old) = (Vec::new(), Vec::new(), Vec::new());
    for res in family(r, "bandwidth_limiting") {
        let Some(limit) = res.name.strip_prefix("bandwidth_limiting_").and_then(|v| v.parse::<f64>().ok()) else {
            continue; // unlimited: no configured value to draw it at
        };
        fam.push((lx(limit), res.throughput_mbps));
        fam_ratio.push((lx(limit), 100.0 * res.throughput_mbps * mib / limit));
        old.push((lx(limit), extra(res, "legacy_throughput_mbps")?));
    }
    achieved.push(Series::line("bandwidth_limiting family: client bucket, 10 files", fam.clone(), PALETTE[4]));
    ratio.push(Series::line("bandwidth_limiting family: client bucket, 10 files", fam_ratio, PALETTE[4]));
    achieved.push(Series::dashed("legacy (family): slept min(bytes / limit, 10 s)", old, GREY));
    let limits: Vec<f64> = curve(r, "limit_server")?.x.clone();
    let xs: Vec<f64> = limits.iter().map(|x| lx(*x)).collect();
    let x = span(&xs);
    achieved.push(Series::band("achieved = configured", xs.iter().map(|x| (*x, 2f64.powf(*x))).collect(), GREY));
    ratio.push(Series::band("100 %", vec![(x.start, 100.0), (x.end, 100.0)], GREY));
    let y_ach = log_bounds(ys(&achieved), 1.5).log_scale();
    let lo = (ys(&ratio).fold(96.0, f64::min) - 2.0).floor();
    let hi = (ys(&ratio).fold(104.0, f64::max) + 4.0).ceil();
    let xr = x.start - 0.3..x.end + 0.3;
    let label = |v: f64| num(v / mib);
    svg((1200, 520), |root| {
        let panels = root.split_evenly((1, 2));
        let a = Axes::new(
            "Achieved vs configured limit (4 concurrent)",
            "configured limit (MiB/s)",
            "achieved throughput (MiB/s, log)",
            xr.clone(),
        )
        .ticks(&limits, lx, label);
        lines(&panels[0], &a, y_ach, &achieved)?;
        let mut b = Axes::new("Achieved / configured", "configured limit (MiB/s)", "achieved / configured (%)", xr)
            .ticks(&limits, lx, label);
        b.y_break = lo > 0.0;
        lines(&panels[1], &b, lo..hi, &ratio)
    })
}

pub fn error_rate(r: &SuiteReport) -> Drawn {
    let c = curve(r, "error_rate")?;
    let pct = |x: f64| 100.0 * x;
    let success = vec![Series::line("success rate", pts(c, pct, |x| 100.0 * x.success_rate), PALETTE[2])];
    let retries = vec![Series::line("retries", pts(c, pct, |x| x.metadata.retries as f64), PALETTE[1])];
    let (mut fam, mut old) = (Vec::new(), Vec::new());
    for res in family(r, "error_recovery") {
        let rate = res.name.trim_start_matches("error_recovery_").trim_end_matches("pct").parse::<f64>()?;
        fam.push((rate, res.duration));
        old.push((rate, extra(res, "legacy_duration_s")?));
    }
    let duration = vec![
        Series::line("modelled, 200 files", pts(c, pct, |x| x.duration), PALETTE[0]),
        Series::line("modelled, error_recovery family (20 files)", fam, PALETTE[4]),
        Series::dashed("legacy (family): slept files x 0.1 s + 2 s x error rate", old, GREY),
    ];
    let s_lo = (ys(&success).fold(100.0, f64::min) - 1.0).floor();
    let rates: Vec<f64> = c.x.iter().map(|x| pct(*x)).collect();
    let x = span(&rates);
    let axes = |title, y_desc| {
        Axes::new(title, "error rate (%)", y_desc, x.start - 2.0..x.end + 2.0).ticks(&rates, |v| v, num)
    };
    svg((1350, 440), |root| {
        let p = root.split_evenly((1, 3));
        let mut a = axes("Success rate (200 small files)", "files completed (%)");
        a.y_break = s_lo > 0.0;
        lines(&p[0], &a, s_lo..100.5, &success)?;
        lines(&p[1], &axes("Retries (200 small files)", "retries"), lin_top(ys(&retries), 1.0), &retries)?;
        lines(&p[2], &axes("Duration", "duration (s)"), lin_top(ys(&duration), 1.0), &duration)
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
    let (mut fam, mut old, mut fam_x) = (Vec::new(), Vec::new(), Vec::new());
    for res in family(r, "connection_pooling") {
        let size = res.name.trim_start_matches("connection_pooling_").parse::<f64>()?;
        fam_x.push(size);
        fam.push((size.log2(), res.duration));
        old.push((size.log2(), extra(res, "legacy_duration_s")?));
    }
    let time = vec![
        Series::line("one shared pool of this size", pts(c, f64::log2, |x| x.duration), PALETTE[2]),
        Series::line("connection_pooling family: a pool per worker (size unused)", fam, PALETTE[4]),
        Series::dashed("legacy (family): slept 50 x 20 ms x (1 - 0.3 min(1, pool / 10))", old, GREY),
    ];
    let mut ticks: Vec<f64> = c.x.iter().chain(&fam_x).copied().collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let x = span(&ticks.iter().map(|v| v.log2()).collect::<Vec<_>>());
    let axes = |title, y_desc| {
        Axes::new(title, "pool size (idle connections kept)", y_desc, x.start - 0.3..x.end + 0.3)
            .ticks(&ticks, f64::log2, num)
            .legend(SeriesLabelPosition::UpperRight)
    };
    svg((1250, 480), |root| {
        let p = root.split_evenly((1, 2));
        let a = axes("Connections vs pool size (5 models x 10 files, 8 concurrent)", "connections");
        lines(&p[0], &a, lin_top(ys(&counts), 1.0), &counts)?;
        let b = axes("Time vs pool size", "duration (s)").legend(SeriesLabelPosition::LowerRight);
        lines(&p[1], &b, lin_top(ys(&time), 0.1), &time)
    })
}

pub fn range_chunk_size(r: &SuiteReport) -> Drawn {
    let c = curve(r, "range_chunk_size")?;
    let table = curve(r, "range_chunk_adaptive_table")?.results.first().ok_or("empty range_chunk_adaptive_table")?;
    let one_get = seed_result(r, "adaptive_chunking_enabled")?;
    let sizes = c.x.clone();
    let x = span(&sizes.iter().map(|v| v.log2()).collect::<Vec<_>>());
    let flat = |y: f64| vec![(x.start, y), (x.end, y)];
    let time = vec![
        Series::line("fixed-size Range requests", pts(c, f64::log2, |x| x.duration), PALETTE[0]),
        Series::dashed("Range requests sized by the adaptive table", flat(table.duration), PALETTE[3]),
        Series::plain("one GET per file (adaptive_chunking family)", flat(one_get.duration), PALETTE[4]),
        Series::dashed(
            "legacy (family, enabled): slept min(bytes / 50 MiB/s x 0.9, 15 s)",
            flat(extra(one_get, "legacy_duration_s")?),
            GREY,
        ),
    ];
    let reqs = vec![
        Series::line("fixed-size Range requests", pts(c, f64::log2, |x| x.metadata.requests as f64), PALETTE[1]),
        Series::dashed("Range requests sized by the adaptive table", flat(table.metadata.requests as f64), PALETTE[3]),
        Series::plain("one GET per file", flat(one_get.metadata.requests as f64), PALETTE[4]),
    ];
    let axes = |title, y_desc| {
        Axes::new(title, "Range request size (bytes)", y_desc, x.start - 0.3..x.end + 0.3)
            .ticks(&sizes, f64::log2, bytes_label)
            .legend(SeriesLabelPosition::UpperRight)
    };
    svg((1250, 480), |root| {
        let p = root.split_evenly((1, 2));
        let a = axes("Time vs Range request size (extended: 3 files of 100-367 MiB)", "duration (s)");
        lines(&p[0], &a, lin_top(ys(&time), 1.0), &time)?;
        lines(
            &p[1],
            &axes("Requests vs Range request size", "requests (log)"),
            log_bounds(ys(&reqs), 1.5).log_scale(),
            &reqs,
        )
    })
}
