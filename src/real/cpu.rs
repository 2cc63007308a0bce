//! CPU accounting of a real run: this thread's and this process's CPU time
//! (`getrusage`), the machine's busy and total CPU time (`/proc/stat`) and the
//! load average (`/proc/loadavg`) — so that `validate` can say how much of the
//! machine other processes took while it measured.

/// CPU time (user + system) from a `getrusage` target, s.
fn rusage_s(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills a valid, zeroed struct.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// CPU time (user + system) of the calling thread, s.
pub fn thread_cpu_s() -> f64 {
    rusage_s(libc::RUSAGE_THREAD)
}

/// CPU time (user + system) of this process, all threads, s.
pub fn process_cpu_s() -> f64 {
    rusage_s(libc::RUSAGE_SELF)
}

/// The machine's CPU time since boot from the first line of `/proc/stat`, s:
/// (busy, total) over all cores (busy = total − idle − iowait).
pub fn machine_cpu_s() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let v: Vec<f64> = line.split_whitespace().skip(1).take(8).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 5 {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let total: f64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some(((total - idle) / hz, total / hz))
}

/// The 1-minute load average, from `/proc/loadavg` (NaN if unreadable).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time (user + system) of this process's live threads named `comm`, s
/// (from `/proc/self/task/*/stat`).
pub fn live_threads_cpu_s(comm: &str) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut ticks = 0u64;
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if &stat[open + 1..close] != comm {
            continue;
        }
        // After "pid (comm) " come state (field 3) … utime (14), stime (15).
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        ticks += f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        ticks += f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / hz
}

/// Give the calling thread (and the threads it spawns later: Linux keeps
/// a nice value per thread and a new thread inherits its creator's) the
/// nice value `nice`; returns the previous value, or `None` if refused
/// (only root may lower it).
pub fn set_thread_nice(nice: i32) -> Option<i32> {
    // SAFETY: getpriority/setpriority on the calling thread (who = 0); errno
    // is cleared first because -1 is a valid priority.
    unsafe {
        *libc::__errno_location() = 0;
        let old = libc::getpriority(libc::PRIO_PROCESS, 0);
        if old == -1 && *libc::__errno_location() != 0 {
            return None;
        }
        (libc::setpriority(libc::PRIO_PROCESS, 0, nice) == 0).then_some(old)
    }
}
