//! Body-less requests a tool sends besides its byte ranges
//! (`client.metadata`): huggingface_hub's HEAD per file, hf_transfer's
//! size probe, and the extra round trip of the Hub's 302 to its CDN for
//! the requests that follow it. Each is a request without a body
//! ([`crate::orchestrator::Action::Send`] with `start == end`, sent as a
//! HEAD) on the segment's connection before its next byte range.

use crate::scenario::{MIB, Metadata, RedirectFollow};
use crate::time::SimTime;

#[inline]
fn redirected(m: &Metadata, size: u64) -> bool {
    m.redirect_min_bytes.is_some_and(|min| size >= min)
}

/// The host a request of a file of `size` bytes goes to, `pre_left` its
/// segment's body-less requests still to send, this one included (0: a
/// byte range): 0 the origin, 1 the CDN its redirect points to (another
/// host, its own connections and handshakes). The HEAD, the probe and the
/// redirect's round trip ask the origin; the byte ranges of a redirected
/// file are fetched from the CDN — as huggingface_hub's GET goes straight
/// to the HEAD's `Location`, hf_transfer's ranges to the probe's final URL,
/// and curl's and aria2's to the URL the 302 names. A probe that follows
/// the 302 (hf_transfer) is sent again to the CDN: the last body-less
/// request of such a file opens the CDN connection its first range then
/// reuses (measured with `ss -ti`: that connection starts its range a
/// round trip and a handshake before the file's other ranges).
#[inline]
pub fn host(m: &Metadata, size: u64, pre_left: u32) -> u32 {
    let followed_probe = m.probe && m.redirect_follow == RedirectFollow::First && pre_left == 1;
    ((pre_left == 0 || followed_probe) && redirected(m, size)) as u32
}

/// Body-less requests before a file's first byte range (on its first
/// segment; the file's other segments wait for them): the HEAD, the probe,
/// and the redirect when only the first request follows it.
#[inline]
pub fn per_file(m: &Metadata, size: u64) -> u32 {
    let redirect = redirected(m, size) && m.redirect_follow == RedirectFollow::First;
    m.head as u32 + m.probe as u32 + redirect as u32
}

/// No body-less request for any file: [`per_file`] and [`per_request`]
/// are 0 whatever the size (the core skips asking them).
#[inline]
pub fn none(m: &Metadata) -> bool {
    !m.head && !m.probe && m.redirect_min_bytes.is_none()
}

/// Body-less requests before every byte range of a file (aria2 sends each
/// segment's request to the original URL and follows the 302 again).
#[inline]
pub fn per_request(m: &Metadata, size: u64) -> u32 {
    (redirected(m, size) && m.redirect_follow == RedirectFollow::Every) as u32
}

/// The tool's own work per file (`client.per_file_overhead_ms`): a
/// modelled delay, not a clock read — aria2's engine turn per download,
/// hf_transfer's tokio runtime and `reqwest::Client` per `download` call,
/// huggingface_hub's lock, metadata and `.incomplete` files
/// (docs/clients.md §9.1). Its first part holds the file's worker before
/// its first request; the rest (`client.per_file_overhead_after_share`)
/// holds it after the file's last byte, before the file counts as done,
/// with `client.per_mib_overhead_ms` per MiB of the file (aria2's fsync);
/// `client.per_range_mib_overhead_ms` per MiB of each range after that
/// range's last byte, one range at a time per file (hf_transfer's write
/// of a range it buffered whole), comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Overhead {
    pub before: Option<SimTime>,
    pub after: Option<SimTime>,
    /// Per MiB of the file, after its last byte, ms.
    pub after_per_mib_ms: f64,
    /// Per MiB of each range, after that range's last byte, ms.
    pub range_per_mib_ms: f64,
}

impl Overhead {
    /// `per_file_overhead_ms` split: `after_share` of it after the last
    /// byte, the rest (so that the two parts sum exactly) before.
    pub fn new(per_file_overhead_ms: f64, after_share: f64, per_mib_ms: f64, range_per_mib_ms: f64) -> Self {
        let total = SimTime::from_millis_f64(per_file_overhead_ms);
        let after = SimTime::from_millis_f64(per_file_overhead_ms * after_share).min(total);
        let some = |t: SimTime| (t > SimTime::ZERO).then_some(t);
        Overhead { before: some(total - after), after: some(after), after_per_mib_ms: per_mib_ms, range_per_mib_ms }
    }

    pub fn is_none(&self) -> bool {
        self.before.is_none() && self.after.is_none() && self.after_per_mib_ms == 0.0 && self.range_per_mib_ms == 0.0
    }

    /// The write of a range whose request brought `bytes`, after its last
    /// byte, if the tool has one.
    #[inline]
    pub fn range_write(&self, bytes: u64) -> Option<SimTime> {
        if self.range_per_mib_ms == 0.0 {
            return None;
        }
        let d = per_mib(bytes, self.range_per_mib_ms);
        (d > SimTime::ZERO).then_some(d)
    }

    /// The work after the last byte of a file of `size` bytes, if any.
    #[inline]
    pub fn after(&self, size: u64) -> Option<SimTime> {
        if self.after_per_mib_ms == 0.0 {
            return self.after;
        }
        let per_byte = per_mib(size, self.after_per_mib_ms);
        match self.after {
            Some(a) => Some(a + per_byte),
            None => (per_byte > SimTime::ZERO).then_some(per_byte),
        }
    }
}

/// `ms_per_mib` ms for each MiB of `bytes`.
#[inline]
fn per_mib(bytes: u64, ms_per_mib: f64) -> SimTime {
    SimTime::from_millis_f64(bytes as f64 / MIB as f64 * ms_per_mib)
}

/// Where the per-file work runs: on each file's own worker (`None`: all
/// overlap), or on `n` shared lanes (`client.per_file_overhead_lanes`),
/// each doing one file's work at a time in dispatch order — aria2's one
/// engine thread (`DownloadEngine::run`) is one lane.
#[derive(Clone, Debug)]
pub struct OverheadLanes {
    /// When each lane is next free; empty = unlimited.
    free_at: Vec<SimTime>,
}

impl OverheadLanes {
    pub fn new(lanes: Option<u32>) -> Self {
        OverheadLanes { free_at: vec![SimTime::ZERO; lanes.unwrap_or(0) as usize] }
    }

    /// A file dispatched at `now` whose work takes `d`: when that work
    /// ends. It takes the lane free first (the lowest index among equals).
    pub fn finish_at(&mut self, now: SimTime, d: SimTime) -> SimTime {
        let Some((i, &free)) = self.free_at.iter().enumerate().min_by_key(|&(i, t)| (*t, i)) else {
            return now + d;
        };
        let end = free.max(now) + d;
        self.free_at[i] = end;
        end
    }
}

/// Timer ids of the per-file overhead: above every segment index (a
/// `u32`), below the start-up timer (`u64::MAX`).
const OVERHEAD_TIMER_BASE: u64 = 1 << 32;

/// The timer id that ends `file`'s per-file overhead.
pub fn overhead_timer(file: u32) -> u64 {
    OVERHEAD_TIMER_BASE + file as u64
}

/// The file whose per-file overhead timer `id` is, if it is one.
pub fn overhead_timer_file(id: u64) -> Option<u32> {
    id.checked_sub(OVERHEAD_TIMER_BASE).and_then(|f| u32::try_from(f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::MIB;

    fn meta(head: bool, probe: bool, follow: RedirectFollow) -> Metadata {
        Metadata { head, probe, redirect_min_bytes: Some(10 * MIB), redirect_follow: follow }
    }

    /// The round trips per tool for a small (JSON) and an LFS file, as
    /// docs/clients.md counts them.
    #[test]
    fn round_trips_per_tool() {
        let (small, lfs) = (1000, 10 * MIB);
        // huggingface_hub: HEAD (answered 302, not followed), GET to the Location.
        let hub = meta(true, false, RedirectFollow::None);
        assert_eq!((per_file(&hub, small), per_file(&hub, lfs), per_request(&hub, lfs)), (1, 1, 0));
        // hf_transfer: probe; for LFS the probe is redirected once more.
        let hft = meta(false, true, RedirectFollow::First);
        assert_eq!((per_file(&hft, small), per_file(&hft, lfs), per_request(&hft, lfs)), (1, 2, 0));
        // curl -L: one redirect for LFS files.
        let curl = meta(false, false, RedirectFollow::First);
        assert_eq!((per_file(&curl, small), per_file(&curl, lfs)), (0, 1));
        // aria2: a redirect before every range of an LFS file.
        let aria = meta(false, false, RedirectFollow::Every);
        assert_eq!((per_file(&aria, lfs), per_request(&aria, lfs), per_request(&aria, lfs - 1)), (0, 1, 0));
        assert_eq!(per_file(&Metadata::default(), lfs) + per_request(&Metadata::default(), lfs), 0);
    }

    #[test]
    fn lanes_run_one_file_each_in_dispatch_order() {
        let ms = SimTime::from_millis;
        let mut free = OverheadLanes::new(None);
        assert_eq!((free.finish_at(ms(0), ms(10)), free.finish_at(ms(0), ms(10))), (ms(10), ms(10)));
        let mut one = OverheadLanes::new(Some(1));
        let ends: Vec<_> = (0..3).map(|_| one.finish_at(ms(0), ms(10))).collect();
        assert_eq!(ends, [ms(10), ms(20), ms(30)]);
        // An idle lane starts the work at once.
        assert_eq!(one.finish_at(ms(100), ms(10)), ms(110));
        let mut two = OverheadLanes::new(Some(2));
        let ends: Vec<_> = (0..4).map(|_| two.finish_at(ms(0), ms(10))).collect();
        assert_eq!(ends, [ms(10), ms(10), ms(20), ms(20)]);
    }

    #[test]
    fn overhead_timers_do_not_collide_with_segment_or_startup_timers() {
        assert_eq!(overhead_timer_file(overhead_timer(0)), Some(0));
        assert_eq!(overhead_timer_file(overhead_timer(u32::MAX)), Some(u32::MAX));
        assert_eq!(overhead_timer_file(u32::MAX as u64), None);
        assert_eq!(overhead_timer_file(u64::MAX), None);
    }

    /// Ranges of a redirected file go to the CDN, body-less requests to
    /// the origin — but for the last of a followed probe's (hf_transfer's
    /// probe sent again to the 302's target); small files stay on the origin.
    #[test]
    fn only_ranges_and_a_followed_probe_go_to_the_cdn() {
        let big = 10 * MIB;
        let probe = Metadata {
            head: false,
            probe: true,
            redirect_min_bytes: Some(big),
            redirect_follow: RedirectFollow::First,
        };
        assert_eq!((host(&probe, big, 2), host(&probe, big, 1), host(&probe, big, 0)), (0, 1, 1));
        assert_eq!((host(&probe, big - 1, 1), host(&probe, big - 1, 0)), (0, 0));
        for follow in [RedirectFollow::None, RedirectFollow::Every] {
            let m = Metadata { redirect_follow: follow, ..probe };
            assert_eq!((host(&m, big, 1), host(&m, big, 0)), (0, 1), "{follow:?}");
        }
        let head = Metadata { head: true, probe: false, ..probe };
        assert_eq!((host(&head, big, 2), host(&head, big, 1), host(&head, big, 0)), (0, 0, 1));
    }

    /// The two parts of the per-file work sum to the whole, to the
    /// nanosecond, whatever the share; a zero part is none.
    #[test]
    fn the_per_file_work_splits_into_parts_that_sum_to_it() {
        let ns = SimTime::from_nanos;
        assert!(Overhead::new(0.0, 0.5, 0.0, 0.0).is_none());
        assert_eq!(
            Overhead::new(1.5, 0.0, 0.0, 0.0),
            Overhead { before: Some(ns(1_500_000)), after: None, after_per_mib_ms: 0.0, range_per_mib_ms: 0.0 }
        );
        assert_eq!(
            Overhead::new(1.5, 1.0, 0.0, 0.0),
            Overhead { before: None, after: Some(ns(1_500_000)), after_per_mib_ms: 0.0, range_per_mib_ms: 0.0 }
        );
        assert_eq!(
            Overhead::new(1.5, 0.74, 0.0, 0.0),
            Overhead {
                before: Some(ns(390_000)),
                after: Some(ns(1_110_000)),
                after_per_mib_ms: 0.0,
                range_per_mib_ms: 0.0
            }
        );
        for (ms, share) in [(0.000_001_3, 0.5), (14.4, 0.74), (9.2, 1.0 / 3.0), (60_000.0, 0.999_999_9)] {
            let o = Overhead::new(ms, share, 0.0, 0.0);
            let sum = o.before.unwrap_or_default() + o.after.unwrap_or_default();
            assert_eq!(sum, SimTime::from_millis_f64(ms), "{ms} ms at share {share}");
        }
        // Per MiB after the last byte: 64 MiB at 3.1 ms per MiB, on top of the share after.
        let o = Overhead::new(1.5, 1.0, 3.1, 0.0);
        assert_eq!(o.after(64 * MIB), Some(ns(1_500_000 + 198_400_000)));
        assert_eq!(Overhead::new(0.0, 0.0, 3.1, 0.0).after(MIB), Some(ns(3_100_000)));
        assert!(!Overhead::new(0.0, 0.0, 3.1, 0.0).is_none());
        assert_eq!(Overhead::new(1.5, 0.0, 0.0, 0.0).after(MIB), None);
        // Per MiB of each range: its own knob, none without it.
        let o = Overhead::new(0.0, 0.0, 0.0, 1.5);
        assert!(!o.is_none());
        assert_eq!((o.after(MIB), o.range_write(10 * MIB)), (None, Some(ns(15_000_000))));
        assert_eq!(Overhead::new(1.5, 1.0, 3.1, 0.0).range_write(MIB), None);
    }

    /// Without a HEAD, a probe or redirects, no file and no request of any
    /// size has a body-less request; any one of them makes `none` false.
    #[test]
    fn none_means_no_preamble_for_any_size() {
        let sizes = [0, 1, 10 * MIB - 1, 10 * MIB, u64::MAX];
        for follow in [RedirectFollow::None, RedirectFollow::First, RedirectFollow::Every] {
            let m = Metadata { head: false, probe: false, redirect_min_bytes: None, redirect_follow: follow };
            assert!(none(&m));
            assert!(sizes.iter().all(|&s| per_file(&m, s) == 0 && per_request(&m, s) == 0));
            for (head, probe) in [(true, false), (false, true)] {
                assert!(!none(&Metadata { head, probe, ..m.clone() }));
            }
            assert!(!none(&Metadata { redirect_min_bytes: Some(10 * MIB), ..m.clone() }));
        }
    }
}
