//! HTTPS served by the relay itself (`[tls]`), over a real socket with a client that trusts
//! only the test's own certificate authority: the app and the API answer with HSTS and a
//! `Secure` session cookie; a certificate replaced on disk is used for new connections without
//! a restart while a download on an open connection finishes on the old one; a replacement
//! that does not load (key and certificate apart) leaves the good one in use; the plain-HTTP
//! listener only redirects.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use relay::AppState;
use relay::config::TlsConfig;
use tower::ServiceExt as _;

use super::sends::{DAY, MIB, bundle};
use super::support::*;

const HOST: &str = "relay.test";

/// A certificate authority of the test's own.
struct Authority {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A server certificate for `HOST` and its key, PEM, and the certificate's DER.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Authority {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Sealpost test CA");
        let key = rcgen::KeyPair::generate().expect("a CA key");
        Self {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self) -> Leaf {
        let params = rcgen::CertificateParams::new(vec![HOST.to_owned()]).expect("leaf params");
        let key = rcgen::KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("a leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// Writes `cert` and `key` as a renewal does: each to a new file renamed over the old.
fn install(dir: &Path, cert: &str, key: &str) -> (PathBuf, PathBuf) {
    let (cert_file, key_file) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
    for (path, text) in [(&key_file, key), (&cert_file, cert)] {
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, text).expect("write");
        std::fs::rename(&fresh, path).expect("rename");
    }
    (cert_file, key_file)
}

/// The relay of `relay` served over TLS on a loopback port; stops when dropped.
struct Served {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Served {
    async fn start(relay: &Relay) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("address");
        let state = AppState::with_clock(
            relay.config.clone(),
            relay.store.clone(),
            relay.time.clone(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(relay::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            address,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.address.port())
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("joins").expect("the relay stops cleanly");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A client that trusts only `authority` and reaches `HOST` at `address`; `pool` keeps
/// connections open between requests.
fn client(authority: &Authority, address: SocketAddr, pool: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(authority.pem().as_bytes()).expect("CA"),
        )
        .resolve(HOST, address)
        .https_only(true)
        .tls_info(true);
    if !pool {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().expect("a client")
}

/// The leaf certificate the server presented on the connection of `response`.
fn presented(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

fn tls_relay(dir: &Path, leaf: &Leaf) -> Relay {
    tls_relay_with(dir, leaf, |_| {})
}

fn tls_relay_with(dir: &Path, leaf: &Leaf, tweak: impl FnOnce(&mut TlsConfig)) -> Relay {
    let (cert_file, key_file) = install(dir, &leaf.cert_pem, &leaf.key_pem);
    relay_with(|config| {
        config.tls = TlsConfig {
            cert_file,
            key_file,
            reload_check_seconds: 1,
            ..TlsConfig::default()
        };
        tweak(&mut config.tls);
    })
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_the_app_and_the_api_with_hsts_and_a_secure_cookie() {
    let certs = tempfile::tempdir().expect("temp dir");
    let authority = Authority::new();
    let leaf = authority.leaf();
    let redirect = free_port();
    let relay = tls_relay_with(certs.path(), &leaf, |tls| {
        tls.redirect_listen = Some(redirect)
    });
    let served = Served::start(&relay).await;
    let client = client(&authority, served.address, true);

    let page = client.get(served.url("/")).send().await.expect("the app");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(presented(&page), leaf.der);
    assert_eq!(
        page.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("text")
            .starts_with("text/html")
    );
    let health = client
        .get(served.url("/api/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        health
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );

    let owner = account("ada@example.com", "a long enough password");
    let signup = client
        .post(served.url("/api/auth/signup"))
        .json(&serde_json::json!({
            "email": owner.email,
            "name": "Ada Owner",
            "organisation": { "name": "Firm ada-law", "handle": "ada-law" },
            "keys": owner.keys,
        }))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signup.status(), StatusCode::CREATED);
    let cookie = signup.headers()[header::SET_COOKIE]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "over HTTPS the session cookie is Secure: {cookie}"
    );
    let session = cookie.split(';').next().expect("name=value").to_owned();
    let me = client
        .get(served.url("/api/me"))
        .header(header::COOKIE, session)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK, "the session works over HTTPS");

    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .resolve(HOST, served.address)
        .build()
        .expect("a client");
    assert!(
        stranger.get(served.url("/")).send().await.is_err(),
        "a client that does not trust the authority refuses the relay"
    );
    let plain = reqwest::Client::new()
        .get(format!("http://{}/api/health", served.address))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|response| !response.status().is_success()),
        "plain HTTP on the TLS port is not served"
    );
    let moved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .get(format!("http://{redirect}/s/abc?x=1"))
        .send()
        .await
        .expect("the redirect listener answers");
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        moved.headers()[header::LOCATION],
        format!("https://127.0.0.1:{}/s/abc?x=1", served.address.port()).as_str(),
        "plain HTTP only redirects, to the same path over HTTPS"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tls_1_2_and_1_3_are_offered_and_1_3_alone_on_request() {
    let certs = tempfile::tempdir().expect("temp dir");
    let authority = Authority::new();
    let leaf = authority.leaf();
    for (min_version, tls_1_2_client_gets_in) in [
        (relay::config::TlsVersion::V1_2, true),
        (relay::config::TlsVersion::V1_3, false),
    ] {
        let relay = tls_relay_with(certs.path(), &leaf, |tls| tls.min_version = min_version);
        let served = Served::start(&relay).await;
        let old = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(authority.pem().as_bytes()).expect("CA"),
            )
            .resolve(HOST, served.address)
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
            .build()
            .expect("a client");
        let answer = old.get(served.url("/api/health")).send().await;
        assert_eq!(
            answer.is_ok(),
            tls_1_2_client_gets_in,
            "a TLS 1.2 client with min_version {min_version:?}: {answer:?}"
        );
        let modern = client(&authority, served.address, false);
        let answer = modern
            .get(served.url("/api/health"))
            .send()
            .await
            .expect("TLS 1.3");
        assert_eq!(answer.status(), StatusCode::OK);
        served.stop().await;
    }
}

#[tokio::test]
async fn plain_http_sends_no_hsts_and_no_secure_cookie_but_an_https_public_url_does() {
    let plain = relay();
    let response = plain
        .send_request(
            Request::get("/api/health")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert!(
        !response
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );
    let owner = account("ada@example.com", "a long enough password");
    let cookie = signup_cookie(&plain, &owner).await;
    assert!(!cookie.contains("Secure"), "{cookie}");

    let proxied = relay_with(|config| config.public_url = "https://sealpost.example".to_owned());
    let response = proxied
        .send_request(Request::get("/").body(Body::empty()).expect("request"))
        .await;
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000",
        "behind an HTTPS proxy the relay still sends HSTS"
    );
    let cookie = signup_cookie(&proxied, &owner).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
}

/// The `Set-Cookie` of a sign-up of `owner` (the session cookie).
async fn signup_cookie(relay: &Relay, owner: &Account) -> String {
    let body = serde_json::json!({
        "email": owner.email,
        "name": "Ada Owner",
        "organisation": { "name": "Firm ada-law", "handle": "ada-law" },
        "keys": owner.keys,
    });
    let response = relay
        .call(
            axum::http::Method::POST,
            "/api/auth/signup",
            None,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("text")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_used_without_a_restart_and_open_downloads_finish() {
    let certs = tempfile::tempdir().expect("temp dir");
    let authority = Authority::new();
    let first = authority.leaf();
    let relay = tls_relay(certs.path(), &first);
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let files = bundle(&[3 * MIB]);
    let link = relay.send(&sender, &files, 1, 7 * DAY).await;
    let opened = relay.open_ok(&link).await;
    let token = opened.download_token.dangerously_expose().to_owned();
    let served = Served::start(&relay).await;

    // A download on one kept-alive connection: its first chunk before the replacement.
    let downloader = client(&authority, served.address, true);
    let chunk = |index: usize| {
        downloader
            .get(served.url(&format!("/api/links/{}/files/0/chunks/{index}", link.id)))
            .bearer_auth(&token)
            .send()
    };
    let response = chunk(0).await.expect("chunk 0");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(presented(&response), first.der);
    assert_eq!(
        response.bytes().await.expect("body").as_ref(),
        files.sealed[0][0].as_bytes()
    );

    let second = authority.leaf();
    install(certs.path(), &second.cert_pem, &second.key_pem);
    // A new client each time: one that kept its TLS session would resume it without being
    // shown a certificate at all.
    let fresh = || client(&authority, served.address, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = fresh()
            .get(served.url("/api/health"))
            .send()
            .await
            .expect("health");
        if presented(&response) == second.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate is in use within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for index in 1..3 {
        let response = chunk(index).await.expect("the rest of the download");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            presented(&response),
            first.der,
            "the open connection was kept, with its certificate"
        );
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            files.sealed[0][index].as_bytes(),
            "chunk {index} arrives whole"
        );
    }

    // A replacement whose key is not the certificate's does not load: the good pair stays.
    let third = authority.leaf();
    install(certs.path(), &third.cert_pem, &second.key_pem);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let response = fresh()
        .get(served.url("/api/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(presented(&response), second.der, "still the last good pair");
    served.stop().await;
}

#[tokio::test]
async fn the_plain_http_listener_only_redirects_to_https() {
    let redirect = |public_url: &str, port: u16, host: Option<&str>, path: &str| {
        let router = relay::tls::redirect_router(public_url, port);
        let mut request = Request::get(path);
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        let request = request.body(Body::empty()).expect("request");
        async move { router.oneshot(request).await.expect("infallible") }
    };
    let answer = redirect("", 8443, Some("relay.example:8080"), "/s/abc?x=1").await;
    assert_eq!(answer.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        answer.headers()[header::LOCATION],
        "https://relay.example:8443/s/abc?x=1"
    );
    let answer = redirect("", 443, Some("relay.example"), "/").await;
    assert_eq!(answer.headers()[header::LOCATION], "https://relay.example/");
    let answer = redirect(
        "https://sealpost.example/",
        443,
        Some("evil.example"),
        "/api/health",
    )
    .await;
    assert_eq!(
        answer.headers()[header::LOCATION],
        "https://sealpost.example/api/health",
        "public_url decides where the redirect goes"
    );
    let answer = redirect("", 443, Some("user@evil.example"), "/").await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let answer = redirect("", 443, None, "/").await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn a_relay_with_broken_certificate_files_does_not_start() {
    let certs = tempfile::tempdir().expect("temp dir");
    let authority = Authority::new();
    let leaf = authority.leaf();
    let other = authority.leaf();
    let (cert_file, key_file) = install(certs.path(), &leaf.cert_pem, &leaf.key_pem);
    let loaded = relay::tls::Certificates::load(&TlsConfig {
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
        ..TlsConfig::default()
    })
    .expect("a good pair");
    let printed = format!("{loaded:?}");
    let key_body: String = leaf
        .key_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let as_numbers = format!("{:?}", leaf.key_pem.as_bytes());
    assert!(
        !printed.contains(&key_body[..20])
            && !printed.contains("PRIVATE")
            && !printed.contains(&as_numbers[1..40]),
        "the private key never prints, as text or as bytes: {printed}"
    );
    let (cert_file, key_file) = install(certs.path(), &leaf.cert_pem, &other.key_pem);
    let config = TlsConfig {
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
        ..TlsConfig::default()
    };
    let error = relay::tls::Certificates::load(&config).expect_err("a key of another certificate");
    assert!(
        format!("{error:#}").contains("does not belong"),
        "{error:#}"
    );
    std::fs::write(&cert_file, "not PEM").expect("write");
    let error = relay::tls::Certificates::load(&config).expect_err("no certificate");
    assert!(
        format!("{error:#}").contains("holds no certificate"),
        "{error:#}"
    );
    let missing = TlsConfig {
        cert_file: certs.path().join("missing.pem"),
        ..config
    };
    let error = relay::tls::Certificates::load(&missing).expect_err("no file");
    assert!(format!("{error:#}").contains("missing.pem"), "{error:#}");
}
