//! Pre-authentication: both ends prove they know the cookie, in fixed-size frames, before
//! a connection reaches `ractor_cluster`.
//!
//! Why: `ractor_cluster` reads length-prefixed frames with one size limit per node server,
//! applied before its own cookie handshake, and a cluster session must carry frames of up to
//! [`crate::MAX_FRAME_BYTES`] (a learner's state). So a client that knows nothing could make a
//! node buffer a gigabyte. A node therefore accepts TCP (and TLS) connections itself, runs this
//! exchange, and hands only a connection that passed it to `ractor_cluster`
//! ([`ractor_cluster::NodeServerMessage::ConnectionOpenedExternal`]); the coordinator runs the
//! other side before it opens its session ([`ractor_cluster::client_connect_external`]).
//!
//! The exchange (`c` the cookie, `H` HMAC-SHA-256 keyed with `c`, `Nc`, `Nn` 32 random bytes
//! each):
//!
//! ```text
//! coordinator → node   MAGIC ‖ Nc                         48 bytes
//! node → coordinator   MAGIC ‖ Nn                         48 bytes
//! coordinator → node   H("coordinator" ‖ Nc ‖ Nn)         32 bytes
//! node → coordinator   H("node" ‖ Nc ‖ Nn)                32 bytes
//! ```
//!
//! A node reads at most 80 bytes from a peer that has not proven the cookie, answers nothing
//! but its nonce, closes at the first wrong byte and gives up after [`PREAUTH_TIMEOUT`]; at most
//! [`MAX_PENDING`] connections are in this exchange at once (more are closed at once). The
//! coordinator, too, learns that the node knows the cookie before it accepts large frames from
//! it. The labels keep one side's proof from being replayed as the other's; fresh nonces on both
//! sides keep a recorded exchange from being replayed. It authenticates; it does not encrypt
//! (TLS does, around it).

use crate::error::PreauthError;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first bytes each side sends: the protocol and its version.
pub const MAGIC: &[u8; 16] = b"vecsim-preauth/1";
/// How long a peer has to complete the exchange.
pub const PREAUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections a node holds in pre-authentication at once.
pub const MAX_PENDING: usize = 64;
/// Bytes a node reads from a peer before it has proven the cookie.
pub const PREAUTH_READ_BYTES: usize = 16 + 32 + 32;

const NONCE: usize = 32;
const BLOCK: usize = 64;

/// HMAC-SHA-256 (RFC 2104) of the parts, concatenated, keyed with `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Equal in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn nonce() -> [u8; NONCE] {
    rand::random()
}

async fn hello<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, mine: &[u8; NONCE]) -> Result<(), PreauthError> {
    let mut m = [0u8; 16 + NONCE];
    m[..16].copy_from_slice(MAGIC);
    m[16..].copy_from_slice(mine);
    s.write_all(&m).await?;
    s.flush().await?;
    Ok(())
}

async fn their_hello<S: AsyncRead + Unpin>(s: &mut S) -> Result<[u8; NONCE], PreauthError> {
    let mut m = [0u8; 16 + NONCE];
    s.read_exact(&mut m[..16]).await?;
    if &m[..16] != MAGIC {
        return Err(PreauthError::NotVecsim);
    }
    s.read_exact(&mut m[16..]).await?;
    let mut n = [0u8; NONCE];
    n.copy_from_slice(&m[16..]);
    Ok(n)
}

async fn read_mac<S: AsyncRead + Unpin>(s: &mut S) -> Result<[u8; 32], PreauthError> {
    let mut mac = [0u8; 32];
    s.read_exact(&mut mac).await?;
    Ok(mac)
}

/// The node's side, on a connection it accepted: `Ok` when the peer proved it knows `cookie`
/// (and has been shown that this node does). Bounded by [`PREAUTH_TIMEOUT`].
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, cookie: &[u8]) -> Result<(), PreauthError> {
    accept_within(s, cookie, PREAUTH_TIMEOUT).await
}

async fn accept_within<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    cookie: &[u8],
    limit: Duration,
) -> Result<(), PreauthError> {
    let run = async {
        let nc = their_hello(s).await?;
        let nn = nonce();
        hello(s, &nn).await?;
        let proof = read_mac(s).await?;
        if !same(&proof, &hmac(cookie, &[b"coordinator", &nc, &nn])) {
            return Err(PreauthError::WrongCookie);
        }
        s.write_all(&hmac(cookie, &[b"node", &nc, &nn])).await?;
        s.flush().await?;
        Ok(())
    };
    tokio::time::timeout(limit, run).await.map_err(|_| PreauthError::Timeout(limit.as_secs()))?
}

/// The coordinator's side, on a connection it opened: `Ok` when the node proved it knows
/// `cookie`. A node that closes the connection instead knows another cookie (or expects TLS):
/// [`PreauthError::Io`] with `UnexpectedEof` or a reset. Bounded by [`PREAUTH_TIMEOUT`].
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, cookie: &[u8]) -> Result<(), PreauthError> {
    let run = async {
        let nc = nonce();
        hello(s, &nc).await?;
        let nn = their_hello(s).await?;
        s.write_all(&hmac(cookie, &[b"coordinator", &nc, &nn])).await?;
        s.flush().await?;
        let proof = read_mac(s).await?;
        if !same(&proof, &hmac(cookie, &[b"node", &nc, &nn])) {
            return Err(PreauthError::WrongCookie);
        }
        Ok(())
    };
    tokio::time::timeout(PREAUTH_TIMEOUT, run).await.map_err(|_| PreauthError::Timeout(PREAUTH_TIMEOUT.as_secs()))?
}

/// A connection that passed [`accept`] or [`connect`], as `ractor_cluster` takes it.
pub(crate) struct Authenticated<S> {
    pub(crate) stream: S,
    pub(crate) peer: String,
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> ractor_cluster::ClusterBidiStream for Authenticated<S> {
    fn split(self: Box<Self>) -> (ractor_cluster::BoxRead, ractor_cluster::BoxWrite) {
        let (r, w) = tokio::io::split(self.stream);
        (Box::new(r), Box::new(w))
    }

    fn peer_label(&self) -> Option<String> {
        Some(self.peer.clone())
    }
}

/// How long a connection may be silent before TCP probes its peer, and between probes: a
/// peer whose host vanished (no FIN, no RST) is noticed after about
/// `KEEPALIVE_IDLE + 3 × KEEPALIVE_INTERVAL` (5 s), and its session closes like any other.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(2);
/// See [`KEEPALIVE_IDLE`].
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);

/// No Nagle delay (the protocol's messages are small and answered at once), and TCP keepalive
/// probes ([`KEEPALIVE_IDLE`]): the heartbeat that closes a session whose peer is gone.
pub(crate) fn tune(tcp: &tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
    let ka = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE).with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let ka = ka.with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&ka);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 4231, test cases 1 and 6 (a key longer than a block).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let key = [0x0b; 20];
        assert_eq!(
            hex(&hmac(&key, &[b"Hi ", b"There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let key = [0xaa; 131];
        assert_eq!(
            hex(&hmac(&key, &[b"Test Using Larger Than Block-Size Key - Hash Key First"])),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    type Both = (Result<(), PreauthError>, Result<(), PreauthError>);

    async fn pair(node_cookie: &'static [u8], coord_cookie: &'static [u8]) -> Both {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let node = tokio::spawn(async move {
            let r = accept(&mut a, node_cookie).await;
            drop(a); // the node closes a connection that failed
            r
        });
        let coord = connect(&mut b, coord_cookie).await;
        (node.await.unwrap(), coord)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn the_same_cookie_passes_both_ways_and_another_is_refused_by_the_node() {
        rt().block_on(async {
            let (n, c) = pair(b"0123456789abcdef-secret", b"0123456789abcdef-secret").await;
            assert!(n.is_ok() && c.is_ok(), "{n:?} {c:?}");
            let (n, c) = pair(b"0123456789abcdef-secret", b"0123456789abcdef-other").await;
            assert!(matches!(n, Err(PreauthError::WrongCookie)), "{n:?}");
            // The coordinator sees the node close the connection: not a proof of the cookie.
            assert!(matches!(c, Err(PreauthError::Io(_))), "{c:?}");
        });
    }

    #[test]
    fn a_peer_that_is_not_vecsim_is_dropped_after_sixteen_bytes() {
        rt().block_on(async {
            let (mut a, mut b) = tokio::io::duplex(1 << 16);
            let node = tokio::spawn(async move { accept(&mut a, b"cookie-cookie-cookie").await });
            // A `ractor_cluster` frame header announcing 2^30 - 1 bytes, then data.
            b.write_all(&((1u64 << 30) - 1).to_be_bytes()).await.unwrap();
            b.write_all(&[0u8; 4096]).await.unwrap();
            assert!(matches!(node.await.unwrap(), Err(PreauthError::NotVecsim)));
        });
    }

    #[test]
    fn a_silent_peer_times_out() {
        rt().block_on(async {
            let (mut a, _b) = tokio::io::duplex(64);
            let r = accept_within(&mut a, b"cookie-cookie-cookie", Duration::from_millis(20)).await;
            assert!(matches!(r, Err(PreauthError::Timeout(0))), "{r:?}");
        });
    }
}
