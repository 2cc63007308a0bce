//! The `dlsim` command line.

use clap::{Parser, Subcommand, ValueEnum};
use dlsim::error::{Error, Result};
use dlsim::par::par_map;
use dlsim::report::{self, BenchmarkResult};
use dlsim::scenario::{self, Scenario};
use dlsim::suite::{PerformanceBenchmark, SuiteReport};
use dlsim::{SimOptions, check, plot, simulate};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "dlsim", version, about = "Deterministic simulator of a model-download orchestrator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Cmd {
    /// Simulate a scenario (every point of its sweep) and write its report.
    Run {
        /// Scenario JSON file.
        scenario: PathBuf,
        /// Run seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Directory for `<name>.json` and `<name>.csv`.
        #[arg(long, default_value = "output")]
        out: PathBuf,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Check every invariant over the run's event log; fail on the first broken one.
        #[arg(long)]
        check: bool,
    },
    /// Run the seed suite (eight families, 27 results, extended sweeps) and
    /// write performance_report.json, performance_report.csv and the SVG plots.
    Suite {
        /// Run seed.
        #[arg(long, default_value_t = dlsim::suite::DEFAULT_SEED)]
        seed: u64,
        /// Output directory.
        #[arg(long, default_value = "output")]
        out: PathBuf,
    },
    /// Redraw the SVG plots of a saved performance_report.json.
    Plot {
        /// A report written by `dlsim suite`.
        report: PathBuf,
        /// Output directory (default: the report's directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure the simulator's speed on a large synthetic workload.
    Bench {
        /// Files in the workload.
        #[arg(long, default_value_t = 100_000)]
        files: u32,
        /// Concurrent downloads (= connections).
        #[arg(long, default_value_t = 256)]
        connections: u32,
        /// Fault probability per request.
        #[arg(long, default_value_t = 0.01)]
        error_rate: f64,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
    /// Serve a scenario's workload over real HTTP/1.1 (loopback only unless --allow-remote).
    Serve {
        /// Scenario JSON file.
        scenario: PathBuf,
        /// TCP port (0 = any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Content and fault seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Address to bind (refused unless loopback, or --allow-remote).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Allow a non-loopback bind address.
        #[arg(long)]
        allow_remote: bool,
    },
    /// Measure the model against reality: each scenario simulated and run for real over loopback.
    Validate {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        matrix: Vec<PathBuf>,
        /// Real runs per scenario (the median is compared).
        #[arg(long, default_value_t = 3)]
        repeats: u32,
        /// Measure loopback request/connection overheads first and feed them to the model.
        #[arg(long)]
        calibrate: bool,
        /// Run seed (default: each scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Directory for validation.json and validation.svg.
        #[arg(long, default_value = "output/validation")]
        out: PathBuf,
        /// Run for real through the WAN emulator (root only): the scenario's RTT, its
        /// server.bandwidth_bps as the bottleneck, an unpaced server.
        #[arg(long)]
        wan: bool,
    },
    /// WAN emulator: kernel TCP through two network namespaces and a delaying relay (root only).
    #[command(subcommand)]
    Wan(dlsim::wan::runner::WanCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run { scenario, seed, out, format, check } => cmd_run(&scenario, seed, &out, format, check),
        Cmd::Suite { seed, out } => cmd_suite(seed, &out),
        Cmd::Plot { report, out } => cmd_plot(&report, out.as_deref()),
        Cmd::Bench { files, connections, error_rate, repeat } => cmd_bench(files, connections, error_rate, repeat),
        Cmd::Serve { scenario, port, seed, bind, allow_remote } => cmd_serve(&scenario, port, seed, bind, allow_remote),
        Cmd::Validate { matrix, repeats, calibrate, seed, out, wan } => {
            cmd_validate(&matrix, repeats, calibrate, seed, &out, wan)
        }
        Cmd::Wan(cmd) => dlsim::wan::runner::main(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dlsim: {e}");
            ExitCode::from(2)
        }
    }
}

fn cmd_run(path: &Path, seed: Option<u64>, out: &Path, format: Format, check: bool) -> Result<ExitCode> {
    let base = Scenario::load(path)?;
    let points = scenario::expand_points(&base)?;
    let seed = seed.unwrap_or(base.seed);
    let started = Instant::now();
    let runs = par_map(&points, |p| {
        let run = simulate(&p.scenario, seed, SimOptions { trace: check });
        let verdict = if check { check::check_run(&p.scenario, &run).err() } else { None };
        (report::from_run(&p.scenario, &run), verdict)
    });
    let wall = started.elapsed();
    let mut results: Vec<BenchmarkResult> = Vec::new();
    for ((result, verdict), p) in runs.into_iter().zip(&points) {
        if let Some(v) = verdict {
            eprintln!("dlsim: check failed for {}: {v}", p.name);
            return Ok(ExitCode::from(1));
        }
        results.push(result);
    }
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "scenario": base.name,
        "seed": seed,
        "results": results,
    }))
    .expect("results serialize");
    let csv = report::csv(&results);
    let written = report::write_outputs(
        out,
        &[
            (format!("{}.json", base.name), (json.clone() + "\n").into_bytes()),
            (format!("{}.csv", base.name), csv.clone().into_bytes()),
        ],
    )?;
    let events: u64 = results.iter().map(|r| r.metadata.events).sum();
    let speed = format!(
        "simulated {} run(s), {events} events in {:.3} s wall ({:.2} M events/s)",
        results.len(),
        wall.as_secs_f64(),
        events as f64 / wall.as_secs_f64().max(1e-9) / 1e6
    );
    match format {
        Format::Table => {
            print!("{}", report::table(&results));
            if check {
                println!("check: every invariant holds");
            }
            for p in &written {
                println!("wrote {}", p.display());
            }
            println!("{speed}");
        }
        Format::Json => {
            println!("{json}");
            eprintln!("{speed}");
        }
        Format::Csv => {
            print!("{csv}");
            eprintln!("{speed}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_bench(files: u32, connections: u32, error_rate: f64, repeat: u32) -> Result<ExitCode> {
    if files == 0 || connections == 0 || repeat == 0 {
        return Err(Error::flag("--files/--connections/--repeat", "must be ≥ 1"));
    }
    let text = serde_json::json!({
        "name": "bench",
        "server": { "bandwidth_bps": 1.25e9, "latency_ms": 5,
                    "faults": { "error_rate": error_rate,
                                "mix": { "http_500": 1, "http_503": 1, "reset": 1, "stall": 0.2 } } },
        "network": { "rtt_ms": 10, "handshake_rtts": 2, "per_connection_bps": 5e7 },
        "client": { "max_concurrent_downloads": connections, "max_concurrent_files_per_model": connections,
                    "scheduling": "interleaved", "retry": { "base_s": 0.1, "max_attempts": 8 } },
        "workload": { "models": [ { "name": "bench", "random":
                    { "count": files, "min_size_bytes": 4096, "max_size_bytes": 67108864 } } ] }
    });
    let s = Scenario::from_value(text)?;
    let mut best = f64::INFINITY;
    let mut r = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let run = simulate(&s, s.seed, SimOptions::default());
        best = best.min(t.elapsed().as_secs_f64());
        r = Some(run);
    }
    let run = r.expect("repeat ≥ 1");
    let res = report::from_run(&s, &run);
    println!(
        "bench: {files} files, {connections} connections, error rate {error_rate}: \
         {} events, {} requests, {} retries, {:.1} s simulated, success {:.4}",
        run.events, res.metadata.requests, res.metadata.retries, res.duration, res.success_rate
    );
    println!("wall {:.3} s (best of {repeat}), {:.2} M events/s", best, run.events as f64 / best / 1e6);
    Ok(ExitCode::SUCCESS)
}

fn cmd_serve(
    path: &Path,
    port: u16,
    seed: Option<u64>,
    bind: std::net::IpAddr,
    allow_remote: bool,
) -> Result<ExitCode> {
    let s = Scenario::load(path)?;
    let seed = seed.unwrap_or(s.seed);
    let server = dlsim::real::Server::for_scenario(&s, seed, (bind, port).into(), allow_remote)?;
    let files = s.workload.expand(seed);
    println!("serving {} files of {} on http://{} (seed {seed})", files.len(), s.name, server.addr());
    println!("  e.g. http://{}/{}", server.addr(), files[0].path);
    println!("  stats: http://{}{}", server.addr(), dlsim::real::server::STATS_PATH);
    server.wait();
    Ok(ExitCode::SUCCESS)
}

fn cmd_validate(
    matrix: &[PathBuf],
    repeats: u32,
    calibrate: bool,
    seed: Option<u64>,
    out: &Path,
    wan: bool,
) -> Result<ExitCode> {
    use dlsim::real::{plot, validate};
    use std::io::{IsTerminal, Write};
    if repeats == 0 {
        return Err(Error::flag("--repeats", "must be ≥ 1"));
    }
    if wan && calibrate {
        return Err(Error::flag("--calibrate", "measures loopback overheads; not with --wan"));
    }
    let files = validate::matrix_files(matrix)?;
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut progress = |line: &str| {
        if tty {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        }
    };
    let calibration = if calibrate {
        progress("calibrating loopback overheads");
        Some(validate::calibrate(5)?)
    } else {
        None
    };
    let path = if wan { validate::PathKind::Wan } else { validate::PathKind::Loopback };
    let report = validate::validate_on(path, &files, repeats, seed, calibration, &mut progress)?;
    if tty {
        eprint!("\r\x1b[2K");
    }
    let json = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
    let points: Vec<_> = report.rows.iter().map(|r| (r.name.clone(), r.measured_s, r.predicted_s)).collect();
    let svg = plot::predicted_vs_measured_svg(&points, "dlsim validate: predicted vs measured");
    let written = report::write_outputs(
        out,
        &[("validation.json".to_string(), json.into_bytes()), ("validation.svg".to_string(), svg.into_bytes())],
    )?;
    print!("{}", validate::table(&report));
    for p in &written {
        println!("wrote {}", p.display());
    }
    println!("validated in {:.1} s wall", started.elapsed().as_secs_f64());
    if !report.passed() {
        eprintln!("dlsim: validation failed: a run broke an invariant or a real run completed no file");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_suite(seed: u64, out: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let report = PerformanceBenchmark::new(seed).run_suite();
    let wall = started.elapsed();
    let (json, svgs) = plot::render_report(&report)?;
    let all: Vec<BenchmarkResult> =
        report.detailed_results.iter().chain(report.extended_sweeps.iter().flat_map(|c| &c.results)).cloned().collect();
    let mut files = vec![
        ("performance_report.json".to_string(), json.into_bytes()),
        ("performance_report.csv".to_string(), report::csv(&all).into_bytes()),
    ];
    files.extend(svgs);
    let written = report::write_outputs(out, &files)?;
    let s = &report.benchmark_summary;
    print!("{}", report::table(&report.detailed_results));
    let perf = |p: &Option<dlsim::suite::Performer>| {
        p.as_ref().map_or("-".to_string(), |p| format!("{} ({:.2} MiB/s)", p.name, p.throughput_mbps))
    };
    println!(
        "summary: {} benchmarks, {:.1} s simulated, avg {:.2} MiB/s, avg success {:.1}%, {} failed files",
        s.total_benchmarks,
        s.total_duration_seconds,
        s.average_throughput_mbps,
        100.0 * s.average_success_rate,
        s.total_errors
    );
    println!("best: {}; worst: {}", perf(&s.best_performer), perf(&s.worst_performer));
    println!("wrote {} files to {}", written.len(), out.display());
    let events: u64 = all.iter().map(|r| r.metadata.events).sum();
    println!("simulated {} runs, {events} events in {:.3} s wall (seed {seed})", all.len(), wall.as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn cmd_plot(path: &Path, out: Option<&Path>) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let report: SuiteReport = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{} is not a dlsim suite report: {e}", path.display())))?;
    let dir = out.map(Path::to_path_buf).unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let (_, svgs) = plot::render_report(&report)?;
    for p in report::write_outputs(&dir, &svgs)? {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
