//! HTTPS for the real server and the real runtime (`server.tls`), with
//! rustls (crypto provider: `ring`).
//!
//! The process generates one self-signed certificate (rcgen, ECDSA P-256)
//! the first time TLS is used, valid for `localhost`, `127.0.0.1`, `::1`
//! and the WAN emulator's server address. The server presents it; the real
//! runtime trusts it and nothing else (a root store holding only this
//! certificate; no system trust store, no disabled verification). External
//! clients trust it with its PEM ([`cert_pem`], `dlsim serve --tls-cert-out`).
//! Both sides offer only the configured version, so the negotiated version
//! is the configured one (checked by `tests/tls.rs` on the connection state).
//!
//! Both the server's connection code and the runtime's request code work on
//! a [`Stream`]: a plain `TcpStream` or a `rustls::StreamOwned` over one.
//! Timeouts are set on the TCP socket underneath ([`Stream::tcp`]); an
//! orderly end sends TLS `close_notify` before the FIN ([`Stream::finish`]);
//! an injected reset flushes the records of the bytes before the cut, waits
//! until the peer has acknowledged them, then aborts the socket with a TCP
//! RST ([`Stream::reset`]) — no `close_notify`, so over TLS as over plain TCP
//! the client gets exactly the bytes before the cut and then an error.

use crate::error::{Error, Result};
use crate::scenario::TlsVersion;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The process's certificate and key.
struct Identity {
    cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
    pem: String,
}

fn identity() -> Result<&'static Identity> {
    static ID: OnceLock<std::result::Result<Identity, String>> = OnceLock::new();
    ID.get_or_init(|| {
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            crate::wan::emulator::SERVER_IP.to_string(),
        ];
        let ck =
            rcgen::generate_simple_self_signed(names).map_err(|e| format!("cannot generate a certificate: {e}"))?;
        Ok(Identity { cert: ck.cert.der().clone(), key_pkcs8: ck.signing_key.serialize_der(), pem: ck.cert.pem() })
    })
    .as_ref()
    .map_err(|e| Error::Other(e.clone()))
}

/// The PEM of the certificate the server presents (for `curl --cacert`).
pub fn cert_pem() -> Result<String> {
    Ok(identity()?.pem.clone())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn versions(v: TlsVersion) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    match v {
        TlsVersion::Tls13 => &TLS13,
        TlsVersion::Tls12 => &TLS12,
    }
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("tls: {what}: {e}"))
}

/// The server side: the process certificate, only version `v`.
pub fn server_config(v: TlsVersion) -> Result<Arc<ServerConfig>> {
    let id = identity()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_pkcs8.clone()));
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(v))
        .map_err(|e| tls_err("server versions", e))?
        .with_no_client_auth()
        .with_single_cert(vec![id.cert.clone()], key)
        .map_err(|e| tls_err("server certificate", e))?;
    Ok(Arc::new(cfg))
}

/// The client side: trusts the process certificate only, offers only version `v`.
pub fn client_config(v: TlsVersion) -> Result<Arc<ClientConfig>> {
    let id = identity()?;
    let mut roots = RootCertStore::empty();
    roots.add(id.cert.clone()).map_err(|e| tls_err("trust anchor", e))?;
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(v))
        .map_err(|e| tls_err("client versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A client's TLS stream.
pub type ClientStream = StreamOwned<ClientConnection, TcpStream>;

/// Complete a client handshake over `tcp` (connected to `addr`, verified as
/// `addr`'s IP) within `timeout`.
pub fn client_handshake(
    cfg: Arc<ClientConfig>,
    addr: SocketAddr,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<ClientStream> {
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(cfg, name).map_err(|e| tls_err("client", e))?;
    let mut s = StreamOwned::new(conn, tcp);
    let until = Instant::now() + timeout;
    while s.conn.is_handshaking() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(tls_err("handshake", "timed out"));
        }
        let _ = s.sock.set_read_timeout(Some(left));
        let _ = s.sock.set_write_timeout(Some(left));
        s.conn.complete_io(&mut s.sock).map_err(|e| tls_err("handshake", e))?;
    }
    Ok(s)
}

/// Connect to `addr` and complete a handshake with version `v` (`None`: plain TCP).
pub fn connect(addr: SocketAddr, v: Option<TlsVersion>, timeout: Duration) -> Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| Error::Other(format!("connect {addr}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    match v {
        None => Ok(Box::new(tcp)),
        Some(v) => Ok(Box::new(client_handshake(client_config(v)?, addr, tcp, timeout)?)),
    }
}

/// A server-side TLS stream; the handshake runs on the first read or write.
pub fn accept(cfg: &Arc<ServerConfig>, tcp: TcpStream) -> std::io::Result<StreamOwned<ServerConnection, TcpStream>> {
    let conn = ServerConnection::new(cfg.clone()).map_err(std::io::Error::other)?;
    Ok(StreamOwned::new(conn, tcp))
}

/// A byte stream over one TCP connection: plain or TLS.
pub trait Stream: Read + Write + Send {
    /// The TCP socket underneath (timeouts, shutdown).
    fn tcp(&self) -> &TcpStream;
    /// The negotiated TLS version (`None`: plain, or still handshaking).
    fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        None
    }
    /// Orderly end of our sending side: TLS `close_notify`, then FIN.
    fn finish(&mut self) {
        let _ = self.flush();
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
    /// Abort after what was written so far: flush it, wait (at most `wait`)
    /// until the peer has acknowledged every byte, then close with a TCP RST.
    fn reset(&mut self, wait: Duration) {
        let _ = self.flush();
        abort(self.tcp(), wait);
    }
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Stream for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

impl Stream for ClientStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// Wait until the kernel's send queue of `tcp` is empty (every byte
/// acknowledged) or `wait` passes, then set `SO_LINGER` to 0 and shut the
/// socket down so the kernel sends RST at once (the descriptor closes when
/// its owner drops it).
fn abort(tcp: &TcpStream, wait: Duration) {
    use std::os::fd::AsRawFd;
    let fd = tcp.as_raw_fd();
    let until = Instant::now() + wait;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one c_int for a valid socket fd.
        let ok = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) } == 0;
        if !ok || queued == 0 || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid fd and a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // With linger 0, the last close() sends RST (shutdown() would send a
    // FIN), so the socket is left for its owners to drop.
}
