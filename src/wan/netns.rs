//! Anonymous network namespaces, held by a file descriptor.
//!
//! A namespace is created by `unshare(CLONE_NEWNET)` in a short-lived
//! dedicated thread (network namespaces are per thread on Linux), which
//! opens `/proc/thread-self/ns/net` and exits. The namespace then lives
//! exactly as long as something refers to it: this descriptor, a socket
//! created inside it, a TUN device's descriptor, or a process that entered
//! it. It has no name, so it never appears in `ip netns list`, and the kernel
//! destroys it (with its devices, addresses and routes) when the last
//! reference goes — on a normal exit, a panic or a SIGKILL alike.
//!
//! Code runs inside a namespace on a thread that first `setns`es into it:
//! [`NetNs::run`] (scoped, joined before it returns) and [`NetNs::spawn`]
//! (a long-lived thread). Every socket such a thread creates stays in the
//! namespace for its whole life, whatever thread later uses it. External
//! processes enter with [`enter`] in `pre_exec`.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::thread::JoinHandle;

/// A network namespace owned by this process.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    label: String,
}

/// Move the calling thread into the namespace of `fd`. Async-signal-safe
/// (one system call), so usable in `Command::pre_exec`.
pub fn enter(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor number.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl NetNs {
    /// A fresh, empty network namespace (only a `lo`, down). `label` names
    /// the creating thread and the namespace in error messages.
    pub fn new(label: &str) -> io::Result<NetNs> {
        let fd = std::thread::Builder::new()
            .name(thread_name("wan-ns", label))
            .spawn(|| -> io::Result<OwnedFd> {
                // SAFETY: unshare affects only the calling (dedicated) thread.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(File::open("/proc/thread-self/ns/net")?.into())
            })?
            .join()
            .map_err(|_| io::Error::other("the namespace thread panicked"))??;
        Ok(NetNs { fd, label: label.to_string() })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The descriptor (for `pre_exec` + [`enter`]).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The namespace's inode number (what `/proc/PID/ns/net` links name).
    pub fn inode(&self) -> io::Result<u64> {
        // SAFETY: dup of a descriptor we own; the File closes the duplicate.
        let dup = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a fresh descriptor owned by nobody else.
        let f = unsafe { File::from_raw_fd(dup) };
        Ok(f.metadata()?.ino())
    }

    /// Run `f` on a thread inside the namespace and return its result; a
    /// panic in `f` is resumed in the caller (after the thread is joined).
    pub fn run<T: Send>(&self, name: &str, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let fd = self.fd.as_raw_fd();
        let joined = std::thread::scope(|s| {
            let h = std::thread::Builder::new().name(thread_name(name, &self.label)).spawn_scoped(s, move || {
                enter(fd)?;
                Ok::<T, io::Error>(f())
            })?;
            Ok::<_, io::Error>(h.join())
        })?;
        match joined {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Start a long-lived thread inside the namespace. The thread holds its
    /// own reference to the namespace while it runs.
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<JoinHandle<io::Result<T>>> {
        // A duplicate, closed once the thread has entered.
        // SAFETY: see `inode`.
        let dup = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is fresh and owned by this OwnedFd only.
        let dup = unsafe { OwnedFd::from_raw_fd(dup) };
        std::thread::Builder::new().name(thread_name(name, &self.label)).spawn(move || {
            enter(dup.as_raw_fd())?;
            drop(dup);
            Ok(f())
        })
    }
}

/// A thread name (Linux keeps 15 bytes of it).
fn thread_name(prefix: &str, label: &str) -> String {
    let side = label.rsplit('-').next().unwrap_or("");
    format!("{prefix}-{side}")
}
