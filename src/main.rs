//! The `dlsim` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use dlsim::error::{Error, Result};
use dlsim::report::{self, BenchmarkResult};
use dlsim::scenario::{self, Budget, Estimate, MIB, Plan, Scenario};
use dlsim::suite::PerformanceBenchmark;
use dlsim::{SimOptions, plot, simulate};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "dlsim", version, about = "Deterministic simulator of a model-download orchestrator", after_help = dlsim::help::MAIN)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

impl From<Format> for dlsim::run::Stdout {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => dlsim::run::Stdout::Table,
            Format::Json => dlsim::run::Stdout::Json,
            Format::Csv => dlsim::run::Stdout::Csv,
        }
    }
}

/// Limits checked before a run starts (see README, "Budgets").
#[derive(Args, Clone, Copy)]
struct BudgetArgs {
    /// Refuse runs estimated to need more simulator events than this
    /// (about 1 M events per second of wall time).
    #[arg(long, default_value_t = Budget::DEFAULT_MAX_EVENTS, value_name = "EVENTS")]
    max_events: u64,
    /// Refuse runs estimated to need more simulator memory than this, MiB.
    #[arg(long, default_value_t = Budget::DEFAULT_MAX_MEMORY_MIB, value_name = "MIB")]
    max_memory_mib: u64,
}

impl BudgetArgs {
    fn budget(self) -> Budget {
        Budget { max_events: self.max_events, max_memory_bytes: self.max_memory_mib.saturating_mul(MIB) }
    }
}

/// A seed: an integer from 0 to 2^64 − 1 (negative numbers are read as
/// values, so `--seed -1` gets this message rather than "unexpected argument").
fn parse_seed(s: &str) -> std::result::Result<u64, String> {
    s.trim().parse::<u64>().map_err(|_| format!("must be an integer from 0 to {}, got {s:?}", u64::MAX))
}

#[derive(Subcommand)]
enum Cmd {
    /// Simulate a scenario (every point of its sweep) and write its report.
    Run {
        /// Scenario JSON file.
        scenario: PathBuf,
        /// Run seed for every point (default: each point's own `seed`, i.e.
        /// the scenario's unless the sweep sets it).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
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
        #[command(flatten)]
        budget: BudgetArgs,
        /// Run only points K, K+N, K+2N, … of the sweep (0 ≤ K < N) and write
        /// them as `<name>.part-K-of-N.json` for `dlsim merge`; `auto` takes K
        /// and N from a Slurm job array or a Kubernetes Indexed Job
        /// (`auto/N` or DLSIM_SHARD_COUNT gives N there).
        #[arg(long, value_name = "K/N|auto")]
        shard: Option<String>,
        /// Seeds per point (default: `sweep.replications`, else 1); the report
        /// gives each metric's mean, std and 95 % confidence interval.
        #[arg(long, value_name = "N")]
        replications: Option<u32>,
    },
    /// Merge the parts written by `run --shard K/N` into the report files the
    /// unsharded run writes (byte for byte).
    Merge {
        /// Part files, or directories holding them.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Directory for `<name>.json` and `<name>.csv`.
        #[arg(long, default_value = "output")]
        out: PathBuf,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Print the fully resolved scenario (every default filled in, units
    /// converted; one entry per sweep point) and each point's estimated cost,
    /// as JSON. Nothing is simulated.
    Explain {
        /// Scenario JSON file.
        scenario: PathBuf,
        /// Run seed for every point (as for `run`).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
        seed: Option<u64>,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Run the seed suite (eight families, 27 results, extended sweeps) and
    /// write performance_report.json, performance_report.csv and the SVG plots.
    Suite {
        /// Run seed.
        #[arg(long, default_value_t = dlsim::suite::DEFAULT_SEED, value_parser = parse_seed, allow_negative_numbers = true)]
        seed: u64,
        /// Output directory.
        #[arg(long, default_value = "output")]
        out: PathBuf,
    },
    /// Draw the SVG charts of a saved report: the suite's
    /// performance_report.json, or any `dlsim run` report (its curve over the
    /// sweep's knob, with replication intervals; with --scenario also the
    /// timeline and the completion CDF).
    Plot {
        /// A report written by `dlsim suite` or `dlsim run`.
        report: PathBuf,
        /// Output directory (default: the report's directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The scenario a run report came from: each point is simulated again
        /// with its reported seed (checked to reproduce the report) for the
        /// timeline and the completion CDF.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The point whose timeline is drawn (default: the first).
        #[arg(long)]
        point: Option<String>,
    },
    /// Measure the simulator's speed on a large synthetic workload.
    #[command(after_help = dlsim::help::BENCH)]
    Bench {
        /// Files in the workload.
        #[arg(long, default_value_t = 100_000)]
        files: u32,
        /// Concurrent downloads (= connections).
        #[arg(long, default_value_t = 256)]
        connections: u32,
        /// Fault probability per request (default 0.01; with --w1, 0).
        #[arg(long)]
        error_rate: Option<f64>,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
        /// Seed of the file sizes and the faults (default 42; not with --w1).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true, conflicts_with = "w1")]
        seed: Option<u64>,
        /// Run the reference workload W1 of N files on C connections instead
        /// (issue 11: shared link, FIFO workers), once.
        #[arg(long, num_args = 2, value_names = ["N", "C"])]
        w1: Option<Vec<u32>>,
        /// `table` or `json` (events, wall times, events/s, peak RSS, bytes
        /// per file and per connection); with --w1.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// With --w1: round trip time, ms (engages TCP slow start).
        #[arg(long, default_value_t = 0.0)]
        rtt_ms: f64,
        /// With --w1: keep the event log and run the invariant checker (timed apart).
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Serve a scenario's workload over real HTTP/1.1 (loopback only unless --allow-remote).
    #[command(after_help = dlsim::help::SERVE)]
    Serve {
        /// Scenario JSON file.
        scenario: PathBuf,
        /// TCP port (0 = any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Content and fault seed (default: the scenario's `seed`).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
        seed: Option<u64>,
        /// Address to bind (refused unless loopback, or --allow-remote).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Allow a non-loopback bind address.
        #[arg(long)]
        allow_remote: bool,
        /// Serve the models the way the Hugging Face Hub's HTTP API does (one repository per model).
        #[arg(long)]
        hub: bool,
        /// With --hub: files of at least this size are redirected to the CDN-like listener.
        #[arg(long, default_value_t = 10 * 1024 * 1024, requires = "hub")]
        lfs_threshold_bytes: u64,
        /// With --hub: no CDN-like listener; large files are served without a redirect.
        #[arg(long, requires = "hub")]
        no_cdn: bool,
        /// With `server.tls` set: write the server's certificate (PEM) here,
        /// for e.g. `curl --cacert FILE` (default: a file in the temp directory).
        #[arg(long)]
        tls_cert_out: Option<PathBuf>,
    },
    /// Measure the model against reality: each scenario simulated and run for real over loopback.
    #[command(after_help = dlsim::help::VALIDATE)]
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
        /// Run seed for every point (default: each point's own `seed`).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
        seed: Option<u64>,
        /// Directory for validation.json and validation.svg.
        #[arg(long, default_value = "output/validation")]
        out: PathBuf,
        /// Run for real through the WAN emulator (root only): the scenario's RTT, its
        /// server.bandwidth_bps as the bottleneck, an unpaced server.
        #[arg(long)]
        wan: bool,
        /// Run this real tool against `serve --hub` instead of dlsim's own client:
        /// curl, aria2c, hf_transfer or huggingface_hub.
        #[arg(long, conflicts_with = "calibrate")]
        client: Option<String>,
    },
    /// WAN emulator: kernel TCP through two network namespaces and a delaying relay (root only).
    #[command(subcommand)]
    Wan(dlsim::wan::runner::WanCmd),
    /// Which client is fastest? The scenario under each client preset (and its own client).
    Compare {
        scenario: PathBuf,
        /// Presets to compare, comma-separated (default: original, huggingface_hub, hf_transfer, aria2, curl).
        #[arg(long)]
        presets: Option<String>,
        /// Run seed (default: the scenario's).
        #[arg(long, value_parser = parse_seed, allow_negative_numbers = true)]
        seed: Option<u64>,
        /// Directory for compare.json, compare.csv and compare.svg.
        #[arg(long, default_value = "output/compare")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run { scenario, seed, out, format, check, budget, shard, replications } => dlsim::run::run(
            &scenario,
            &dlsim::run::RunOptions {
                seed,
                out,
                format: format.into(),
                check,
                budget: budget.budget(),
                shard,
                replications,
            },
        ),
        Cmd::Merge { parts, out, format } => dlsim::run::merge(&parts, &out, format.into()),
        Cmd::Explain { scenario, seed, budget } => cmd_explain(&scenario, seed, budget.budget()),
        Cmd::Suite { seed, out } => cmd_suite(seed, &out),
        Cmd::Plot { report, out, scenario, point } => {
            plot::command::plot(&report, out.as_deref(), scenario.as_deref(), point.as_deref())
                .and_then(|t| say(&t))
                .map(|()| ExitCode::SUCCESS)
        }
        Cmd::Bench { w1: Some(nc), format, budget, rtt_ms, error_rate, check, .. } => {
            let o = dlsim::bench::W1Options { rtt_ms, error_rate: error_rate.unwrap_or(0.0), check };
            match format {
                Format::Csv => Err(Error::flag("--format", "bench prints `table` or `json`, got csv")),
                _ => dlsim::bench::cmd_w1(nc[0], nc[1], &o, format == Format::Json, &budget.budget())
                    .and_then(|text| say(&text))
                    .map(|_| ExitCode::SUCCESS),
            }
        }
        Cmd::Bench { files, connections, error_rate, repeat, seed, budget, .. } => {
            cmd_bench(files, connections, error_rate.unwrap_or(0.01), repeat, seed.unwrap_or(42), budget.budget())
        }
        Cmd::Serve { scenario, port, seed, bind, allow_remote, hub, lfs_threshold_bytes, no_cdn, tls_cert_out } => {
            let hub = hub.then(|| dlsim::real::HubOptions {
                hub: dlsim::real::hub::HubConfig { lfs_threshold_bytes, ..Default::default() },
                cdn: !no_cdn,
            });
            cmd_serve(&scenario, port, seed, bind, allow_remote, hub, tls_cert_out)
        }
        Cmd::Validate { matrix, repeats, seed, out, client: Some(client), wan, .. } => {
            cmd_validate_client(&matrix, &client, repeats, seed, &out, wan)
        }
        Cmd::Validate { matrix, repeats, calibrate, seed, out, client: None, wan } => {
            cmd_validate(&matrix, repeats, calibrate, seed, &out, wan)
        }
        Cmd::Wan(cmd) => dlsim::wan::runner::main(cmd),
        Cmd::Compare { scenario, presets, seed, out } => {
            dlsim::compare::command(&scenario, presets.as_deref(), seed, &out)
                .and_then(|t| say(&t))
                .map(|_| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`dlsim run … | head`) ends quietly, as other tools do.
        Err(Error::Write { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dlsim: {e}");
            ExitCode::from(2)
        }
    }
}

/// Print on stdout; a full device is an error naming stdout, a closed pipe
/// ends the command quietly (see `main`).
fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write { path: PathBuf::from("standard output"), source })
}

/// Build and check the plan of every point of `base` one at a time,
/// refusing as soon as one point, or all points together, exceed `budget`.
fn plans(path: &Path, base: &Scenario, seed: Option<u64>, budget: &Budget, trace: bool) -> Result<Vec<Plan>> {
    let points = scenario::points(base).map_err(|e| e.in_file(path))?;
    let n = points.total();
    let mut plans = Vec::new();
    let mut total = Estimate::default();
    for p in points {
        let p = p.map_err(|e| e.in_file(path))?;
        let plan = Plan::new(&p.scenario, seed, budget, trace).map_err(|e| e.in_file(path))?;
        total += *plan.estimate();
        if n > 1 {
            budget.check(&total, &format!("the sweep's {n} points")).map_err(|e| e.in_file(path))?;
        }
        plans.push(plan);
    }
    Ok(plans)
}

/// `dlsim explain`: each point's resolved scenario and its estimate, as JSON.
fn cmd_explain(path: &Path, seed: Option<u64>, budget: Budget) -> Result<ExitCode> {
    let base = Scenario::load(path)?;
    let plans = plans(path, &base, seed, &budget, false)?;
    eprint!("{}", scenario::warnings::render(&plans));
    let points: Vec<serde_json::Value> = plans
        .iter()
        .map(|p| {
            let e = p.estimate();
            serde_json::json!({
                "scenario": p.scenario(),
                "estimate": {
                    "files": e.files,
                    "bytes_min": e.bytes_min,
                    "bytes_max": e.bytes_max,
                    "requests": e.requests,
                    "events": e.events,
                    "memory_bytes": e.memory_bytes,
                    "min_duration_s": e.min_duration_s,
                },
            })
        })
        .collect();
    let doc = if points.len() == 1 { points[0].clone() } else { serde_json::json!({ "points": points }) };
    let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::Other(format!("cannot render JSON: {e}")))?;
    say(&format!("{text}\n"))?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_bench(
    files: u32,
    connections: u32,
    error_rate: f64,
    repeat: u32,
    seed: u64,
    budget: Budget,
) -> Result<ExitCode> {
    if files == 0 || files as u64 > scenario::MAX_FILES {
        return Err(Error::flag(
            "--files",
            format!("must be an integer from 1 to {}, got {files}", scenario::MAX_FILES),
        ));
    }
    if connections == 0 || connections > 1_000_000 {
        return Err(Error::flag("--connections", format!("must be an integer from 1 to 1000000, got {connections}")));
    }
    if !(0.0..=1.0).contains(&error_rate) {
        return Err(Error::flag("--error-rate", format!("must be a number in [0, 1], got {error_rate}")));
    }
    if repeat == 0 {
        return Err(Error::flag("--repeat", "must be an integer ≥ 1, got 0"));
    }
    let text = serde_json::json!({
        "name": "bench",
        "seed": seed,
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
    let plan = Plan::new(&s, None, &budget, false)?;
    // Repetitions are work too: all of them must fit the event budget.
    let mut all = *plan.estimate();
    all.events = all.events.saturating_mul(repeat as u64);
    budget.check(&all, &format!("bench --repeat {repeat}")).map_err(|e| match e {
        Error::Budget(m) => Error::Budget(format!("{m} (or lower --repeat)")),
        other => other,
    })?;
    let mut best = f64::INFINITY;
    let mut r = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let run = simulate(&plan, SimOptions::default());
        best = best.min(t.elapsed().as_secs_f64());
        r = Some(run);
    }
    let run = r.expect("repeat ≥ 1");
    plan.check_duration(run.duration)?;
    let res = report::from_run(&s, &run);
    say(&format!(
        "bench: {files} files, {connections} connections, error rate {error_rate}, seed {seed}: \
         {} events, {} requests, {} retries, {:.1} s simulated, success {:.4}\n\
         wall {:.3} s (best of {repeat}), {:.2} M events/s\n",
        run.events,
        res.metadata.requests,
        res.metadata.retries,
        res.duration,
        res.success_rate,
        best,
        run.events as f64 / best / 1e6
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_serve(
    path: &Path,
    port: u16,
    seed: Option<u64>,
    bind: std::net::IpAddr,
    allow_remote: bool,
    hub: Option<dlsim::real::HubOptions>,
    tls_cert_out: Option<PathBuf>,
) -> Result<ExitCode> {
    let s = Scenario::load(path)?;
    let plan = Plan::new(&s, seed, &Budget::default(), false).map_err(|e| e.in_file(path))?;
    let seed = plan.seed();
    let files = plan.files();
    let server = match hub {
        Some(opts) => {
            say(&format!("hashing {} files of {} for the Hub's ETags…\n", files.len(), s.name))?;
            let server = dlsim::real::Server::start_hub(&s, seed, (bind, port).into(), allow_remote, opts)?;
            let cdn = server.cdn_addr().map_or("none (large files served directly)".into(), |a| format!("http://{a}"));
            say(&format!(
                "serving {} models of {} as a Hugging Face Hub on {} (seed {seed}; CDN: {cdn})\n  e.g. HF_ENDPOINT={} HF_HUB_DISABLE_XET=1 hf download {}\n",
                s.workload.models.len(),
                s.name,
                server.endpoint(),
                server.endpoint(),
                s.workload.models[0].name
            ))?;
            server
        }
        None => {
            let server = dlsim::real::Server::for_scenario(&s, seed, (bind, port).into(), allow_remote)?;
            let proto = s.server.tls.map_or("HTTP/1.1".to_string(), |v| format!("HTTPS (TLS {})", v.as_str()));
            say(&format!(
                "serving {} files of {} over {proto} on {} (seed {seed})\n",
                files.len(),
                s.name,
                server.addr()
            ))?;
            server
        }
    };
    let base = server.url("");
    let base = base.trim_end_matches('/');
    if s.server.tls.is_some() {
        let cert = tls_cert_out
            .unwrap_or_else(|| std::env::temp_dir().join(format!("dlsim-serve-{}.pem", std::process::id())));
        std::fs::write(&cert, dlsim::real::tls::cert_pem()?)
            .map_err(|e| Error::Other(format!("cannot write {}: {e}", cert.display())))?;
        say(&format!("  certificate: {} (e.g. curl --cacert {} {base}/...)\n", cert.display(), cert.display()))?;
    }
    say(&format!("  e.g. {base}/{}\n  stats: {base}{}\n", files.path(0), dlsim::real::server::STATS_PATH))?;
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
    if repeats == 0 {
        return Err(Error::flag("--repeats", "must be ≥ 1"));
    }
    if wan && calibrate {
        return Err(Error::flag("--calibrate", "measures loopback overheads; not with --wan"));
    }
    let files = validate::matrix_files(matrix)?;
    let started = Instant::now();
    let shown = dlsim::progress::Progress::spinner(dlsim::progress::stderr_is_terminal());
    let mut progress = |line: &str| shown.message(line);
    let calibration = if calibrate {
        progress("calibrating loopback overheads");
        Some(validate::calibrate(5)?)
    } else {
        None
    };
    let path = if wan { validate::PathKind::Wan } else { validate::PathKind::Loopback };
    let report = validate::validate_on(path, &files, repeats, seed, calibration, &mut progress)?;
    shown.finish();
    let json = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
    let points: Vec<_> = report.rows.iter().map(|r| (r.name.clone(), r.measured_s, r.predicted_s)).collect();
    let svg = plot::predicted_vs_measured_svg(&points, "dlsim validate: predicted vs measured");
    let written = report::write_outputs(
        out,
        &[("validation.json".to_string(), json.into_bytes()), ("validation.svg".to_string(), svg.into_bytes())],
    )?;
    let mut text = validate::table(&report);
    for p in &written {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    text.push_str(&format!(
        "validated in {:.1} s wall
",
        started.elapsed().as_secs_f64()
    ));
    say(&text)?;
    if !report.passed() {
        eprintln!("dlsim: validation failed: a run broke an invariant or a real run completed no file");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `validate --client NAME`: the real tool against `serve --hub` (loopback
/// or, with `--wan`, the WAN emulator), every file checked, compared with
/// the sim of the tool's preset (logic in `dlsim::real::clients`).
fn cmd_validate_client(
    matrix: &[PathBuf],
    client: &str,
    repeats: u32,
    seed: Option<u64>,
    out: &Path,
    wan: bool,
) -> Result<ExitCode> {
    use dlsim::real::clients;
    let client = clients::Client::parse(client)?;
    let files = dlsim::real::validate::matrix_files(matrix)?;
    println!("{}", clients::TABLE_HEADER);
    let shown = dlsim::progress::Progress::spinner(dlsim::progress::stderr_is_terminal());
    let on_row = |row: &clients::ClientRow| shown.suspend(|| println!("{}", clients::table_row(row)));
    let report =
        clients::validate_client_with_status(&files, client, repeats, seed, wan, on_row, &mut |m| shown.message(m))?;
    shown.finish();
    println!(
        "{} vs preset {}: median |log error| {:.3}, max {:.3} over {} scenarios (median of {repeats} runs each; load {} → {})",
        client.name(),
        report.preset.name(),
        report.median_abs_log_error,
        report.max_abs_log_error,
        report.rows.len(),
        report.load_before,
        report.load_after
    );
    println!("{}", report.spread.line());
    let c = report.costs;
    println!(
        "measured on the calibration workload (20 and 100 × 1 KiB): start-up {:.0} ms, per-file cost {:.1} ms \
         (preset {:.1} ms), first call {:.0} ms",
        1000.0 * c.startup_s,
        c.per_file_ms,
        report.preset_per_file_overhead_ms,
        c.first_call_ms
    );
    let json = serde_json::to_string_pretty(&report).expect("the report serializes") + "\n";
    let name = format!("clients-{}{}.json", client.name(), if wan { "-wan" } else { "" });
    for p in report::write_outputs(out, &[(name, json.into_bytes())])? {
        println!("wrote {}", p.display());
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
    report::check_finite(&all)?;
    let mut files = vec![
        ("performance_report.json".to_string(), json.into_bytes()),
        ("performance_report.csv".to_string(), report::csv(&all).into_bytes()),
    ];
    files.extend(svgs);
    let written = report::write_outputs(out, &files)?;
    let s = &report.benchmark_summary;
    let mut text = report::table(&report.detailed_results);
    let perf = |p: &Option<dlsim::suite::Performer>| {
        p.as_ref().map_or("-".to_string(), |p| format!("{} ({:.2} MiB/s)", p.name, p.throughput_mbps))
    };
    text.push_str(&format!(
        "summary: {} benchmarks, {:.1} s simulated, avg {:.2} MiB/s, avg success {:.1}%, {} failed files",
        s.total_benchmarks,
        s.total_duration_seconds,
        s.average_throughput_mbps,
        100.0 * s.average_success_rate,
        s.total_errors
    ));
    text.push_str(&format!("\nbest: {}; worst: {}\n", perf(&s.best_performer), perf(&s.worst_performer)));
    text.push_str(&format!("wrote {} files to {}\n", written.len(), out.display()));
    let events: u64 = all.iter().map(|r| r.metadata.events).sum();
    text.push_str(&format!(
        "simulated {} runs, {events} events in {:.3} s wall (seed {seed})\n",
        all.len(),
        wall.as_secs_f64()
    ));
    say(&text)?;
    Ok(ExitCode::SUCCESS)
}
