//! Body-less requests a tool sends besides its byte ranges
//! (`client.metadata`): huggingface_hub's HEAD per file, hf_transfer's
//! size probe, and the extra round trip of the Hub's 302 to its CDN for
//! the requests that follow it. Each is a request without a body
//! ([`crate::orchestrator::Action::Send`] with `start == end`, sent as a
//! HEAD) on the segment's connection before its next byte range.

use crate::scenario::{Metadata, RedirectFollow};

fn redirected(m: &Metadata, size: u64) -> bool {
    m.redirect_min_bytes.is_some_and(|min| size >= min)
}

/// Body-less requests before a file's first byte range (on its first
/// segment; the file's other segments wait for them): the HEAD, the probe,
/// and the redirect when only the first request follows it.
pub fn per_file(m: &Metadata, size: u64) -> u32 {
    let redirect = redirected(m, size) && m.redirect_follow == RedirectFollow::First;
    m.head as u32 + m.probe as u32 + redirect as u32
}

/// Body-less requests before every byte range of a file (aria2 sends each
/// segment's request to the original URL and follows the 302 again).
pub fn per_request(m: &Metadata, size: u64) -> u32 {
    (redirected(m, size) && m.redirect_follow == RedirectFollow::Every) as u32
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
}
