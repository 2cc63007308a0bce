//! The relay: one thread moving IPv4 packets between the server-side and
//! client-side TUN devices through the two [`Link`]s, releasing each packet
//! when it is due.
//!
//! It sleeps in `ppoll` with a nanosecond timeout until the next due time or
//! a readable device, with the thread's timer slack set to 1 ns (the default
//! 50 µs slack would make every release that late), and on each wake-up
//! releases every packet that is due. It never spins: an earlier version
//! spun the last 50 µs before each due time, which at 40 MB/s (a packet every
//! 37 µs) kept a `SCHED_FIFO` thread on the CPU all the time; on a 2-core
//! machine that took a core from the server and the client, and the kernel's
//! real-time throttling (`sched_rt_runtime_us`, 950 ms per second) then
//! stopped the relay for 50 ms every second — measured as a p99 release
//! lateness of 27–50 ms and 64 MiB at 40 MB/s taking 2.2–6.7 s instead of
//! 1.8 s. A late wake-up only delays releases (the bottleneck's schedule is
//! computed from arrival times, not release times), so the emulated rate is
//! kept; the delay is reported. Packet buffers are recycled, not allocated
//! per packet. Packets that are not IPv4 (IPv6 router solicitations and the
//! like) are not relayed. The thread asks for `SCHED_FIFO` (root may) so
//! that a loaded machine does not delay its wake-ups by milliseconds;
//! without it, it still works. Every release is timed against its due time
//! ([`Lateness`]), and the thread's own CPU time is reported.

use super::link::{Link, LinkCounters, Verdict};
use super::tun::Tun;
use serde::Serialize;
use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread::JoinHandle;
use std::time::Instant;

/// Largest packet read from a device (MTU 1500 leaves ample room).
const BUF_BYTES: usize = 65_536;
/// Packets read from one device per wake-up before releases are served again.
const READ_BATCH: usize = 32;
/// `SCHED_FIFO` priority of the relay thread: above every normal thread, so a
/// busy machine does not delay releases; it sleeps between them, so it takes
/// only the CPU the packets need.
const REALTIME_PRIORITY: libc::c_int = 10;
/// Recycled packet buffers kept at most (more are freed).
const POOL_BUFFERS: usize = 4_096;
/// Lateness histogram: 1 µs buckets up to this, then one overflow bucket.
const HIST_US: usize = 2_000;

/// How late packets were released relative to their due time.
#[derive(Clone, Debug, Serialize)]
pub struct Lateness {
    pub packets: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    /// Packets released more than 100 µs after their due time.
    pub over_100us: u64,
}

/// What the relay did over a run.
#[derive(Clone, Debug, Serialize)]
pub struct RelayReport {
    /// Server → client.
    pub downlink: LinkCounters,
    /// Client → server.
    pub uplink: LinkCounters,
    /// Packets that were not IPv4 and were not relayed.
    pub non_ipv4: u64,
    /// Whether the relay thread got `SCHED_FIFO` (else it shares the CPU
    /// with everything else and releases late on a loaded machine).
    pub realtime: bool,
    pub lateness: Lateness,
    /// CPU time of the relay thread (user + system), s.
    pub cpu_s: f64,
    /// That CPU time per relayed packet (both directions), ns.
    pub cpu_ns_per_packet: f64,
    /// The server namespace's TCP counters at the end of the run
    /// ([`super::tcpstats::KEYS`]; empty unless the caller read them).
    pub server_tcp: std::collections::BTreeMap<String, u64>,
}

struct Timing {
    hist: Vec<u64>,
    sum_ns: u128,
    max_ns: u64,
    over_100us: u64,
}

impl Timing {
    fn new() -> Timing {
        Timing { hist: vec![0; HIST_US + 1], sum_ns: 0, max_ns: 0, over_100us: 0 }
    }
    fn record(&mut self, late_ns: u64) {
        self.hist[((late_ns / 1_000) as usize).min(HIST_US)] += 1;
        self.sum_ns += u128::from(late_ns);
        self.max_ns = self.max_ns.max(late_ns);
        self.over_100us += u64::from(late_ns > 100_000);
    }
    fn summary(&self) -> Lateness {
        let n: u64 = self.hist.iter().sum();
        // Upper edge of the bucket holding quantile q (the max for the overflow bucket).
        let q = |q: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            let rank = ((q * n as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, c) in self.hist.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return if i == HIST_US { self.max_ns as f64 / 1e3 } else { (i + 1) as f64 };
                }
            }
            self.max_ns as f64 / 1e3
        };
        Lateness {
            packets: n,
            p50_us: q(0.5),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: self.max_ns as f64 / 1e3,
            mean_us: if n == 0 { 0.0 } else { self.sum_ns as f64 / n as f64 / 1e3 },
            over_100us: self.over_100us,
        }
    }
}

/// The running relay thread.
pub struct Relay {
    stop: OwnedFd,
    thread: Option<JoinHandle<io::Result<RelayReport>>>,
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain eventfd(2); owned at once.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Relay {
    /// Start relaying between `server` and `client` (`down`: server → client).
    pub fn start(name: String, server: Tun, client: Tun, down: Link, up: Link) -> io::Result<Relay> {
        let stop = eventfd()?;
        // SAFETY: dup of our eventfd for the thread.
        let dup = unsafe { libc::fcntl(stop.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptor.
        let stop_rx = unsafe { OwnedFd::from_raw_fd(dup) };
        let thread = std::thread::Builder::new().name(name).spawn(move || run(server, client, down, up, stop_rx))?;
        Ok(Relay { stop, thread: Some(thread) })
    }

    /// Stop the thread (closing both devices) and return its report.
    pub fn stop(mut self) -> io::Result<RelayReport> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<RelayReport> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.stop.as_raw_fd(), (&one as *const u64).cast(), 8) };
        match self.thread.take() {
            Some(h) => h.join().map_err(|_| io::Error::other("the relay thread panicked"))?,
            None => Err(io::Error::other("the relay was already stopped")),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop_and_join();
        }
    }
}

fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

fn run(server: Tun, client: Tun, mut down: Link, mut up: Link, stop: OwnedFd) -> io::Result<RelayReport> {
    // SAFETY: prctl and sched_setscheduler on the calling thread only.
    let realtime = unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
        let param = libc::sched_param { sched_priority: REALTIME_PRIORITY };
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0
    };
    let epoch = Instant::now();
    let mut timing = Timing::new();
    let mut non_ipv4 = 0u64;
    let mut buf = vec![0u8; BUF_BYTES];
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut fds = [
        libc::pollfd { fd: server.raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: client.raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: stop.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // Release everything due, in both directions.
        let now = now_ns(epoch);
        for (link, dst) in [(&mut down, &client), (&mut up, &server)] {
            while let Some((due, packet)) = link.pop_due(now) {
                timing.record(now - due);
                // A refused write (full device queue, namespace going away)
                // loses the packet, as a wire would.
                let _ = dst.send(&packet);
                if pool.len() < POOL_BUFFERS {
                    pool.push(packet);
                }
            }
        }
        let now = now_ns(epoch);
        let next = [down.next_due(), up.next_due()].into_iter().flatten().min();
        let ts = next.map(|d| {
            let wait = d.saturating_sub(now);
            libc::timespec { tv_sec: (wait / 1_000_000_000) as libc::time_t, tv_nsec: (wait % 1_000_000_000) as _ }
        });
        for f in &mut fds {
            f.revents = 0;
        }
        // SAFETY: `fds` and `ts` are valid for the call; no signal mask change.
        let r = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                ts.as_ref().map_or(std::ptr::null(), |t| t),
                std::ptr::null(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[2].revents != 0 {
            break;
        }
        for (i, (src, link)) in [(&server, &mut down), (&client, &mut up)].into_iter().enumerate() {
            if fds[i].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                return Err(io::Error::other(format!("TUN device {} failed", src.name())));
            }
            if fds[i].revents & libc::POLLIN == 0 {
                continue;
            }
            for _ in 0..READ_BATCH {
                match src.recv(&mut buf) {
                    Ok(n) => {
                        if n == 0 || buf[0] >> 4 != 4 {
                            non_ipv4 += 1;
                            continue;
                        }
                        let mut packet = pool.pop().unwrap_or_default();
                        packet.clear();
                        packet.extend_from_slice(&buf[..n]);
                        // Drops and losses are counted by the link.
                        let _: Verdict = link.arrive(now_ns(epoch), packet);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let cpu_s = crate::real::cpu::thread_cpu_s();
    let (down_c, up_c) = (down.counters(), up.counters());
    let packets = down_c.packets_in + up_c.packets_in;
    let cpu_ns_per_packet = if packets == 0 { 0.0 } else { cpu_s * 1e9 / packets as f64 };
    Ok(RelayReport {
        downlink: down_c,
        uplink: up_c,
        non_ipv4,
        realtime,
        lateness: timing.summary(),
        cpu_s,
        cpu_ns_per_packet,
        server_tcp: Default::default(),
    })
}
