//! A TUN device: a network interface whose packets (bare IPv4/IPv6, no
//! link header: `IFF_TUN | IFF_NO_PI`) are read from and written to a file
//! descriptor by the relay.
//!
//! The device is created in the network namespace of the calling thread
//! ([`Tun::create`] runs inside [`super::NetNs::run`]); it is not persistent,
//! so it disappears when its descriptor is closed (and with its namespace).
//! Addresses, MTU and link state are set with the classic `SIOCSIF*` ioctls
//! on a socket of that namespace — no `ip` binary, no netlink.

use std::ffi::c_int;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// An open TUN device (non-blocking).
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {name:?}")));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn check(r: c_int, what: &str, name: &str) -> io::Result<()> {
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what} on {name}: {e}")));
    }
    Ok(())
}

fn sockaddr_in(ip: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; the kernel reads
    // the bytes as a sockaddr_in because of sin_family.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// A datagram socket of the calling thread's namespace, for the ioctls.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Set interface `name` up (in the calling thread's namespace).
pub fn set_up(name: &str) -> io::Result<()> {
    let sock = ioctl_socket()?;
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `req`, which is valid.
    unsafe {
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req), "SIOCGIFFLAGS", name)?;
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        check(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req), "SIOCSIFFLAGS", name)?;
    }
    Ok(())
}

impl Tun {
    /// Create TUN device `name` in the calling thread's network namespace.
    pub fn create(name: &str) -> io::Result<Tun> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open /dev/net/tun: {e}")))?;
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads `req` (and writes the final name back).
        check(unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) }, "TUNSETIFF", name)?;
        Ok(Tun { file, name: name.to_string() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Give the device `ip/prefix_len` and `mtu` and set it up; the kernel
    /// adds the prefix route. Call from a thread in the device's namespace.
    pub fn configure(&self, ip: Ipv4Addr, prefix_len: u8, mtu: u32) -> io::Result<()> {
        let sock = ioctl_socket()?;
        let fd = sock.as_raw_fd();
        let name = &self.name;
        let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0));
        // SAFETY: each ioctl reads a valid, initialised ifreq.
        unsafe {
            let mut req = ifreq(name)?;
            req.ifr_ifru.ifru_addr = sockaddr_in(ip);
            check(libc::ioctl(fd, libc::SIOCSIFADDR, &req), "SIOCSIFADDR", name)?;
            let mut req = ifreq(name)?;
            req.ifr_ifru.ifru_netmask = sockaddr_in(mask);
            check(libc::ioctl(fd, libc::SIOCSIFNETMASK, &req), "SIOCSIFNETMASK", name)?;
            let mut req = ifreq(name)?;
            req.ifr_ifru.ifru_mtu = mtu as c_int;
            check(libc::ioctl(fd, libc::SIOCSIFMTU, &req), "SIOCSIFMTU", name)?;
        }
        set_up(name)
    }

    /// Read one packet; `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Inject one packet into the device's namespace.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        (&self.file).write(packet)
    }

    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
