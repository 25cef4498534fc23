//! Encrypted links between the coordinator and the nodes: TLS, which `ractor_cluster` carries
//! its sessions over when both ends ask for it.
//!
//! The cookie authenticates the coordinator to a node; it encrypts nothing. With TLS a node
//! presents a certificate (`vecsim node --tls-cert FILE --tls-key FILE`, PEM), the coordinator
//! checks it against the certificate authority of the cluster file (`tls_ca = "FILE"`) and the
//! node's address as written there (an IP address or a DNS name the certificate must name), and
//! everything that crosses — scenario, checkpoints, learners, tasks — is encrypted. The cookie
//! handshake then runs inside the encrypted session, as before.

use crate::ClusterError;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn tls_error(path: &Path, message: impl std::fmt::Display) -> ClusterError {
    ClusterError::Tls { path: path.to_path_buf(), message: message.to_string() }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, e))?;
    if certs.is_empty() {
        return Err(tls_error(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// A node's side: its certificate chain and private key.
#[derive(Clone)]
pub struct NodeTls {
    pub(crate) acceptor: TlsAcceptor,
}

impl NodeTls {
    /// Reads a certificate chain and its private key (PEM files; PKCS#8, SEC1 or PKCS#1 key).
    pub fn load(cert: &Path, key: &Path) -> Result<NodeTls, ClusterError> {
        let chain = certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(key, e))?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls_error(cert, format!("the certificate and the key do not make a TLS server: {e}")))?;
        Ok(NodeTls { acceptor: TlsAcceptor::from(Arc::new(config)) })
    }
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeTls")
    }
}

/// The coordinator's side: the certificate authority the nodes' certificates must chain to.
#[derive(Clone)]
pub struct CoordinatorTls {
    pub(crate) connector: TlsConnector,
}

impl CoordinatorTls {
    /// Reads the certificate authority (a PEM file of one or more certificates).
    pub fn load(ca: &Path) -> Result<CoordinatorTls, ClusterError> {
        let mut roots = RootCertStore::empty();
        for c in certificates(ca)? {
            roots.add(c).map_err(|e| tls_error(ca, format!("not a usable certificate authority: {e}")))?;
        }
        let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Ok(CoordinatorTls { connector: TlsConnector::from(Arc::new(config)) })
    }

    /// The name a node's certificate must carry: the host part of its `HOST:PORT` address.
    pub(crate) fn server_name(addr: &str) -> Result<ServerName<'static>, ClusterError> {
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
            None => addr,
        };
        ServerName::try_from(host.to_string()).map_err(|e| ClusterError::Handshake {
            addr: addr.to_string(),
            message: format!("`{host}` cannot name a TLS server: {e}"),
        })
    }
}

impl std::fmt::Debug for CoordinatorTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatorTls")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls").join(name)
    }

    #[test]
    fn certificates_load_and_bad_files_are_named() {
        assert!(NodeTls::load(&fixture("node.pem"), &fixture("node.key")).is_ok());
        assert!(CoordinatorTls::load(&fixture("ca.pem")).is_ok());
        // A key file given as the certificate, a missing file, a certificate as the key.
        for (cert, key) in [("node.key", "node.key"), ("missing.pem", "node.key"), ("node.pem", "ca.pem")] {
            let e = NodeTls::load(&fixture(cert), &fixture(key)).unwrap_err();
            assert!(matches!(&e, ClusterError::Tls { .. }) && e.is_bad_input(), "{e}");
            assert!(e.to_string().contains(".pem") || e.to_string().contains(".key"), "{e}");
        }
        assert!(matches!(CoordinatorTls::load(&fixture("node.key")), Err(ClusterError::Tls { .. })));
    }

    #[test]
    fn a_node_is_named_by_the_host_of_its_address() {
        assert!(matches!(CoordinatorTls::server_name("127.0.0.1:4000"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(CoordinatorTls::server_name("[::1]:4000"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(CoordinatorTls::server_name("node-3.example:4000"), Ok(ServerName::DnsName(_))));
        assert!(matches!(
            CoordinatorTls::server_name("bad name:4000"),
            Err(ClusterError::Handshake { addr, message }) if addr == "bad name:4000" && message.contains("`bad name`")
        ));
    }
}
