//! HTTPS served by the relay itself (`[tls]`): rustls on ring, TLS 1.2 and 1.3 only (or 1.3
//! only), HTTP/1.1 over it. The certificate and key are read from PEM files at start (a
//! problem there stops the start) and again on SIGHUP and whenever either file changes (checked
//! every `reload_check_seconds`): each new handshake gets the newest pair that loaded, while
//! connections already open keep theirs, so replacing a certificate drops nothing. A pair that
//! fails to load (half written, key not matching the certificate) is logged and the one in use
//! stays. The optional plain-HTTP listener (`redirect_listen`) answers every request with a
//! permanent redirect to the same path over HTTPS, and nothing else.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse as _, Response};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::config::{TlsConfig, TlsVersion};

/// The certificate in use and where it comes from.
#[derive(Debug)]
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// SHA-256 of the files as last read (loaded or not), so a change is noticed once; never
    /// the bytes, so that no `Debug` of the resolver can print the private key.
    last_read: std::sync::Mutex<[u8; 32]>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|current| current.clone())
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The files hold what is already in use.
    Unchanged,
    /// A new pair is in use.
    Replaced,
}

impl Certificates {
    /// Reads the pair now: an error names the file and what is wrong with it.
    pub fn load(config: &TlsConfig) -> anyhow::Result<Arc<Self>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = read_pair(&config.cert_file, &config.key_file)?;
        let current = certified(&cert, &key, config, &provider)?;
        Ok(Arc::new(Self {
            cert_file: config.cert_file.clone(),
            key_file: config.key_file.clone(),
            provider,
            current: RwLock::new(Arc::new(current)),
            last_read: std::sync::Mutex::new(digest(&cert, &key)),
        }))
    }

    /// Reads the files again and, if they changed and hold a valid pair, puts it in use for
    /// new handshakes. A pair that fails keeps the old one in use and is an error.
    pub fn reload(&self) -> anyhow::Result<Reload> {
        let (cert, key) = read_pair(&self.cert_file, &self.key_file)?;
        {
            let mut last = self
                .last_read
                .lock()
                .map_err(|_| anyhow::anyhow!("the certificate reload lock is poisoned"))?;
            let read = digest(&cert, &key);
            if *last == read {
                return Ok(Reload::Unchanged);
            }
            *last = read;
        }
        let config = TlsConfig {
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            ..TlsConfig::default()
        };
        let pair = certified(&cert, &key, &config, &self.provider)?;
        let mut current = self
            .current
            .write()
            .map_err(|_| anyhow::anyhow!("the certificate lock is poisoned"))?;
        *current = Arc::new(pair);
        Ok(Reload::Replaced)
    }

    /// The certificate chain in use (DER), leaf first.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current
            .read()
            .map(|current| current.cert.clone())
            .unwrap_or_default()
    }
}

/// What identifies a pair as read: SHA-256 over both files, each prefixed by its length.
fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut hash = Sha256::new();
    for part in [cert, key] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

/// The certificate file's bytes and the key file's (wiped from memory when dropped).
fn read_pair(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> anyhow::Result<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    let cert = std::fs::read(cert_file).with_context(|| {
        format!(
            "while reading the certificate [tls] cert_file {}",
            cert_file.display()
        )
    })?;
    let key = std::fs::read(key_file)
        .map(zeroize::Zeroizing::new)
        .with_context(|| {
            format!(
                "while reading the private key [tls] key_file {}",
                key_file.display()
            )
        })?;
    Ok((cert, key))
}

/// The pair in `cert` and `key` (PEM), checked to belong together.
fn certified(
    cert: &[u8],
    key: &[u8],
    config: &TlsConfig,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "[tls] cert_file {} is not a PEM certificate chain",
                config.cert_file.display()
            )
        })?;
    if chain.is_empty() {
        anyhow::bail!(
            "[tls] cert_file {} holds no certificate",
            config.cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key).with_context(|| {
        format!(
            "[tls] key_file {} is not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
            config.key_file.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, provider).with_context(|| {
        format!(
            "the private key in {} does not belong to the certificate in {}",
            config.key_file.display(),
            config.cert_file.display()
        )
    })
}

/// The acceptor for the relay's listener, resolving certificates through `certificates`.
pub fn acceptor(
    config: &TlsConfig,
    certificates: Arc<Certificates>,
) -> anyhow::Result<TlsAcceptor> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match config.min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let mut server = rustls::ServerConfig::builder_with_provider(certificates.provider.clone())
        .with_protocol_versions(versions)
        .context("while choosing the TLS versions")?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    // The connection edge speaks HTTP/1.1 only (see `server`).
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Reloads `certificates` on SIGHUP and when the files change, for ever.
pub async fn watch(certificates: Arc<Certificates>, every: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; certificate files are still watched");
            None
        }
    };
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let asked = match &mut hangup {
            Some(hangup) => tokio::select! {
                _ = hangup.recv() => true,
                _ = tick.tick() => false,
            },
            None => {
                tick.tick().await;
                false
            }
        };
        match certificates.reload() {
            Ok(Reload::Replaced) => tracing::info!(
                cert_file = %certificates.cert_file.display(),
                "TLS certificate reloaded: new connections use it, open ones keep theirs"
            ),
            Ok(Reload::Unchanged) if asked => {
                tracing::info!("SIGHUP: the TLS certificate files are unchanged");
            }
            Ok(Reload::Unchanged) => {}
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "the TLS certificate files changed but do not load; still serving the previous certificate"
            ),
        }
    }
}

/// The plain-HTTP listener's whole router: every request is sent to the same path over HTTPS,
/// at `public_url` when it is an https:// address, else at the request's host on `https_port`.
pub fn redirect_router(public_url: &str, https_port: u16) -> Router {
    let base = public_url
        .trim()
        .strip_prefix("https://")
        .map(|rest| format!("https://{}", rest.trim_end_matches('/')));
    Router::new().fallback(move |request: Request| {
        let base = base.clone();
        async move { redirect(base.as_deref(), https_port, &request) }
    })
}

fn redirect(base: Option<&str>, https_port: u16, request: &Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let origin = match base {
        Some(base) => base.to_owned(),
        None => {
            let Some(host) = request
                .headers()
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .and_then(host_name)
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    "this address serves only redirects to HTTPS, and the request names no host\n",
                )
                    .into_response();
            };
            if https_port == 443 {
                format!("https://{host}")
            } else {
                format!("https://{host}:{https_port}")
            }
        }
    };
    let target = format!("{origin}{path}");
    match (target.parse::<Uri>(), HeaderValue::from_str(&target)) {
        (Ok(_), Ok(location)) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            "not a path that can be redirected\n",
        )
            .into_response(),
    }
}

/// The host of a `Host` header without its port, if it is a plain name or address (nothing
/// that could make the redirect leave this host, such as `user@elsewhere`).
fn host_name(host: &str) -> Option<&str> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        &host[..end + 2]
    } else {
        host.split(':').next()?
    };
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    (!name.is_empty() && plain).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_host_names_are_redirected_to() {
        assert_eq!(host_name("relay.example:80"), Some("relay.example"));
        assert_eq!(host_name("relay.example"), Some("relay.example"));
        assert_eq!(host_name("[::1]:80"), Some("[::1]"));
        assert_eq!(host_name("user@evil.example"), None);
        assert_eq!(host_name("evil.example/x"), None);
        assert_eq!(host_name(""), None);
    }
}
