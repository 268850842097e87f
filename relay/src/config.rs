//! The relay's one configuration struct, layered defaults → TOML file → `SEALPOST_*`
//! environment → command-line flags, built once in `main` and passed down. Nested keys use a
//! double underscore in the environment (`SEALPOST_LOG__FORMAT=json`). Unknown keys are errors,
//! so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the database lives. Back this folder up; it holds only ciphertext and metadata.
    pub data_dir: PathBuf,
    /// Where users reach this relay, e.g. `https://sealpost.example.com`: for links in mail
    /// and the return address of card payments. Empty: mail and card payments are refused
    /// (the configuration check says so at start).
    pub public_url: String,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub limits: Limits,
    pub rate_limits: RateLimitsConfig,
    pub sessions: SessionConfig,
    pub brute_force: BruteForceConfig,
    pub sends: SendsConfig,
    pub smtp: SmtpConfig,
    pub stripe: StripeConfig,
    pub portal: PortalConfig,
    pub anonymous: AnonymousConfig,
    pub security: SecurityContactConfig,
    pub blobs: BlobsConfig,
    pub tls: TlsConfig,
    pub metrics: MetricsConfig,
    pub webhooks: WebhooksConfig,
}

/// Outgoing webhooks (organisations register endpoints for their events). By default only
/// `https://` endpoints on public addresses are accepted and called, so an organisation
/// cannot make the relay reach into the network it runs in (SSRF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Allow endpoints on loopback, private, link-local and other non-public addresses (an
    /// intranet receiver, or tests).
    pub allow_private_addresses: bool,
    /// Allow `http://` endpoints (deliveries then travel in the clear).
    pub allow_http: bool,
    /// How long one attempt may take.
    pub timeout_seconds: u32,
    /// Endpoints one organisation may register.
    pub max_endpoints_per_org: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            allow_http: false,
            timeout_seconds: 10,
            max_endpoints_per_org: 10,
        }
    }
}

/// `/metrics` (Prometheus text). Never public by default: it is served only on `listen`, a
/// separate address to keep off the public network, or on the main address to requests
/// bearing `token`. Both unset: no metrics at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate address that serves only `/metrics`, e.g. `127.0.0.1:9464`. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// A bearer token (at least 32 characters) that `/metrics` requires, on the main address
    /// and on `listen` alike. Empty: not served on the main address. Redacted in logs.
    pub token: Secret,
}

/// HTTPS served by the relay itself (see `tls`). Off while `cert_file` is empty: then put the
/// relay behind a reverse proxy that terminates TLS, and set `public_url` to its https://
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first (e.g. Let's Encrypt's `fullchain.pem`).
    pub cert_file: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The oldest protocol offered: `"1.2"` (the default, with 1.3) or `"1.3"`.
    pub min_version: TlsVersion,
    /// A plain-HTTP address (e.g. `0.0.0.0:80`) that only redirects to HTTPS. Unset: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_listen: Option<SocketAddr>,
    /// `Strict-Transport-Security` max-age, sent whenever users reach the relay over HTTPS
    /// (served here, or `public_url` is https://). 0: no such header.
    pub hsts_max_age_seconds: u64,
    /// How often the certificate files are checked for a change (SIGHUP reloads at once).
    pub reload_check_seconds: u32,
}

/// The TLS versions a relay may start from: `"1.2"` or `"1.3"` (a bare 1.3 from the
/// environment, which reads as a number, counts too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    V1_2,
    #[serde(rename = "1.3")]
    V1_3,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Text(String),
            Number(f64),
        }
        let text = match Given::deserialize(deserializer)? {
            Given::Text(text) => text,
            Given::Number(number) => number.to_string(),
        };
        match text.trim() {
            "1.2" => Ok(Self::V1_2),
            "1.3" => Ok(Self::V1_3),
            other => Err(serde::de::Error::custom(format!(
                "[tls] min_version must be \"1.2\" or \"1.3\", not {other:?}"
            ))),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            min_version: TlsVersion::V1_2,
            redirect_listen: None,
            hsts_max_age_seconds: 365 * 24 * 3600,
            reload_check_seconds: 5,
        }
    }
}

impl TlsConfig {
    /// Whether the relay serves HTTPS itself.
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }
}

/// Who hears of vulnerabilities in this relay, served as `/.well-known/security.txt`
/// (RFC 9116). Without a contact there is no such file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityContactConfig {
    /// `mailto:security@firm.example` or an `https://` page.
    pub contact: String,
    /// Where the operator's vulnerability policy is published (optional).
    pub policy: String,
    /// e.g. `en, de` (optional).
    pub preferred_languages: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `relay=debug,tower_http=info`.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON request body the API accepts, in bytes.
    pub json_body_bytes: usize,
    /// Password hashes (argon2id, 19 MiB each) computed at once.
    pub hashing_parallel: usize,
    /// Requests that may wait for a hashing slot; past them the relay answers 503.
    pub hashing_queue: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            public_url: String::new(),
            log: LogConfig::default(),
            server: ServerConfig::default(),
            limits: Limits::default(),
            rate_limits: RateLimitsConfig::default(),
            sessions: SessionConfig::default(),
            brute_force: BruteForceConfig::default(),
            sends: SendsConfig::default(),
            smtp: SmtpConfig::default(),
            stripe: StripeConfig::default(),
            portal: PortalConfig::default(),
            anonymous: AnonymousConfig::default(),
            security: SecurityContactConfig::default(),
            blobs: BlobsConfig::default(),
            tls: TlsConfig::default(),
            metrics: MetricsConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// The connection edge (see `server`): limits no client can argue with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections served at once from one client address (an IPv6 /64 counts as one); more
    /// are closed at once. Trusted proxies (`[brute_force] trusted_proxies`) are exempt.
    pub max_connections_per_address: usize,
    /// Time a client has to send a request's headers (also the idle time allowed between
    /// requests on one connection).
    pub header_timeout_seconds: u32,
    /// Time a client has to send a request's body (a 1 MiB chunk, a JSON body); then 408.
    pub body_timeout_seconds: u32,
    /// On SIGTERM, how long requests in flight may take to finish before they are cut off.
    pub shutdown_grace_seconds: u32,
    /// Writes are refused with 507 while the data directory's disk has less free space than
    /// this, so the database never meets a full disk.
    pub min_free_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_address: 256,
            header_timeout_seconds: 10,
            body_timeout_seconds: 60,
            shutdown_grace_seconds: 30,
            min_free_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Requests per client address (an IPv6 /64 counts as one) on the endpoints anyone can call
/// without an account; past a limit the relay answers 429 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// New organisations and joins.
    pub signup: RateLimit,
    /// Salt look-ups before log-in.
    pub prelogin: RateLimit,
    /// Log-ins and second-factor codes (wrong ones are limited further by the brute-force
    /// guard).
    pub login: RateLimit,
    /// Invitation look-ups and invitations sent.
    pub invitation: RateLimit,
    /// Content-Security-Policy reports.
    pub csp_report: RateLimit,
    /// Stripe's webhook (Stripe retries what is refused).
    pub webhook: RateLimit,
    /// Requests made with one API key, whatever address they come from. The default lets a
    /// script upload a 2 GiB send's chunks in one burst and then about 100 requests a second.
    pub api_key: RateLimit,
    /// Invitations one organisation may create in a UTC day (each may be mailed by the relay,
    /// so this bounds what an organisation can make the relay's SMTP send). Counted on disk.
    pub invitations_per_org_per_day: u32,
    /// Sign-up mails (a confirmation link, or a notice that the address already has an
    /// account) one address may be sent in a UTC day, so nobody can flood a mailbox through
    /// the sign-up form. Past it the form answers as always and nothing is sent.
    pub signup_mails_per_address_per_day: u32,
}

/// A rate: `per_hour` requests an hour on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_hour: u32,
    pub burst: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        let rate = |per_hour, burst| RateLimit { per_hour, burst };
        Self {
            signup: rate(60, 20),
            prelogin: rate(3600, 100),
            login: rate(3600, 100),
            invitation: rate(600, 50),
            csp_report: rate(600, 50),
            webhook: rate(36_000, 500),
            api_key: rate(360_000, 2_500),
            invitations_per_org_per_day: 50,
            signup_mails_per_address_per_day: 3,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info".to_owned(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json_body_bytes: 1024 * 1024,
            hashing_parallel: 2,
            hashing_queue: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_minutes: u32,
    /// A session ends this long after log-in, used or not.
    pub absolute_hours: u32,
    /// Mark the session cookie `Secure`. Unset: it is whenever users reach the relay over
    /// HTTPS ([tls] is on, or `public_url` is https://); `false` is then refused at start.
    /// Set `true` behind an HTTPS proxy whose address is not `public_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_cookie: Option<bool>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
            secure_cookie: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    /// Failed log-ins from one IP within the window that block it.
    pub ip_max_failures: u32,
    pub ip_window_minutes: u32,
    /// How long a block lasts.
    pub ip_block_hours: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (exact IP addresses). Empty: the
    /// peer address is the client, whatever headers say.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            ip_max_failures: 10,
            ip_window_minutes: 15,
            ip_block_hours: 24,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Secure Send limits (PRODUCT.md flow 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendsConfig {
    /// Largest bundle (sum of its files' ciphertext), in bytes.
    pub max_bundle_bytes: u64,
    /// Ciphertext one organisation may keep stored at a time, in bytes.
    pub org_quota_bytes: u64,
    /// Wrong one-time passwords after which a link is destroyed.
    pub max_attempts: u32,
    /// Most opens a sender may allow on one link.
    pub max_opens: u32,
    /// Life of the download token a correct opening returns.
    pub download_token_minutes: u32,
    /// Uploads not finalized within this many hours are deleted.
    pub unfinished_upload_hours: u32,
}

impl Default for SendsConfig {
    fn default() -> Self {
        Self {
            max_bundle_bytes: 5 * 1024 * 1024 * 1024,
            org_quota_bytes: 100 * 1024 * 1024 * 1024,
            max_attempts: 5,
            max_opens: 100,
            download_token_minutes: 120,
            unfinished_upload_hours: 24,
        }
    }
}

/// Limits of the public intake portal (PRODUCT.md flow 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// Largest drop (its files' ciphertext together), in bytes.
    pub max_bundle_bytes: u64,
    /// Drops one IP address may start per hour.
    pub max_drops_per_ip_per_hour: u32,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            max_bundle_bytes: 1024 * 1024 * 1024,
            max_drops_per_ip_per_hour: 20,
        }
    }
}

/// What people without an account (portal drops, answers to request links) may make the
/// relay store. Their uploads count against these allowances, never against the organisation's
/// own storage, so strangers cannot stop a firm from sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnonymousConfig {
    /// Unfinished anonymous uploads one organisation may have at a time, in bytes.
    pub unfinished_bytes_per_org: u64,
    /// Unfinished anonymous uploads from one address (an IPv6 /64 counts as one), in bytes.
    pub unfinished_bytes_per_address: u64,
    /// Anonymous uploads one organisation may keep, finished or not, in bytes.
    pub stored_bytes_per_org: u64,
    /// Anonymous uploads not finalized within this many minutes are deleted.
    pub abandon_after_minutes: u32,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        Self {
            unfinished_bytes_per_org: 4 * 1024 * 1024 * 1024,
            unfinished_bytes_per_address: 2 * 1024 * 1024 * 1024,
            stored_bytes_per_org: 50 * 1024 * 1024 * 1024,
            abandon_after_minutes: 120,
        }
    }
}

/// Outgoing mail (invitations). Off while `url` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// `smtps://user:password@host:465`, `smtp://user:password@host:587?tls=required`, or
    /// `smtp://host:25` (no TLS: only for a relay on the same machine). Redacted in logs.
    pub url: Secret,
    /// The sender, e.g. `Sealpost <no-reply@example.com>`.
    pub from: String,
}

/// Card payments through Stripe Checkout (PRODUCT.md flow 2). Off while either key is empty:
/// then only payments marked by hand are offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StripeConfig {
    /// The secret API key, `sk_live_…` or `sk_test_…`. Redacted in logs.
    pub secret_key: Secret,
    /// The webhook endpoint's signing secret, `whsec_…`. Redacted in logs.
    pub webhook_secret: Secret,
    /// Stripe's API (tests point it at a local stand-in).
    pub api_base: String,
    /// Webhooks signed longer ago than this are refused (Stripe's default tolerance).
    pub webhook_tolerance_seconds: u32,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            secret_key: Secret::default(),
            webhook_secret: Secret::default(),
            api_base: "https://api.stripe.com".to_owned(),
            webhook_tolerance_seconds: 300,
        }
    }
}

impl S3Config {
    /// What an S3 bucket needs before the relay can use it (also checked by
    /// `admin blobs migrate`, which uses this section whatever `backend` says).
    pub fn check(&self) -> Result<(), String> {
        if self.bucket.trim().is_empty() {
            return Err("[blobs] backend = \"s3\" needs [blobs.s3] bucket".to_owned());
        }
        let endpoint = self.endpoint.trim();
        if endpoint.starts_with("http://") && !self.allow_http {
            return Err(format!(
                "[blobs.s3] endpoint {endpoint:?} is plain http: use https://, or set allow_http = true for a store on this machine or a private network"
            ));
        }
        if !endpoint.is_empty()
            && !endpoint.starts_with("http://")
            && !endpoint.starts_with("https://")
        {
            return Err(format!(
                "[blobs.s3] endpoint must start with https:// (or http://), not {endpoint:?}"
            ));
        }
        if self
            .prefix
            .split('/')
            .any(|part| part == "." || part == "..")
            || self.prefix.chars().any(char::is_control)
        {
            return Err(format!(
                "[blobs.s3] prefix {:?} must be plain folder names separated by /",
                self.prefix
            ));
        }
        Ok(())
    }
}

impl StripeConfig {
    /// Whether card payments are on.
    pub fn enabled(&self) -> bool {
        !self.secret_key.is_empty() && !self.webhook_secret.is_empty()
    }
}

/// Where chunk ciphertext is kept. Key material (link verifiers, wrapped keys, manifests,
/// receipt keys) and metadata always stay in the data directory, whichever backend holds the
/// chunks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsConfig {
    pub backend: BlobBackend,
    pub s3: S3Config,
}

/// The chunk backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// Files under `<data_dir>/blobs/` (each synced before a 2xx).
    #[default]
    Files,
    /// Objects in an S3-compatible bucket (`[blobs.s3]`).
    S3,
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, ...) for chunk ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    /// Folder-like prefix inside the bucket, e.g. `sealpost/firm-a` (several relays can
    /// share a bucket, each under its own prefix).
    pub prefix: String,
    /// Empty for AWS itself; otherwise the store's address, e.g. `https://s3.firm.example`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    /// Redacted in logs.
    pub secret_access_key: Secret,
    /// Lets `endpoint` be plain `http://` (a store on the same machine or a private network).
    pub allow_http: bool,
    /// Path-style addresses (`endpoint/bucket/key`), which most self-hosted stores need;
    /// `false` uses virtual-hosted addresses (`bucket.endpoint/key`).
    pub path_style: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            prefix: String::new(),
            endpoint: String::new(),
            region: "us-east-1".to_owned(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            allow_http: false,
            path_style: true,
        }
    }
}

/// A configuration value that must never be printed: `Debug` shows `***`, and so does
/// serializing it (what `check-config` prints; the defaults figment starts from hold no
/// secret, and an empty one stays empty).
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value, for the one place that needs it. Never log it.
    pub fn dangerously_expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("***")
        }
    }
}

/// Values given as command-line flags; `None` means "not given, keep the lower layers".
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// Environment variables with the `SEALPOST_` prefix that are not configuration keys (the
/// configuration file, and two that builds read: `cargo run` and `cargo test` also pass a
/// build script's `SEALPOST_GIT_COMMIT` to what they run).
const NOT_CONFIG_KEYS: [&str; 3] = ["config", "client_dist", "git_commit"];

impl Config {
    /// Builds the configuration from its layers. `file` is read when given (a missing given file
    /// is an error: the operator asked for it).
    pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> Result<Self, Box<figment::Error>> {
        Self::load_unchecked(file, flags).and_then(|config| {
            config
                .check()
                .map(|()| config)
                .map_err(|problem| Box::new(figment::Error::from(problem)))
        })
    }

    /// The layers read and typed, without `check` (for `check-config`, which lists every
    /// problem instead of stopping at the first).
    pub fn load_unchecked(
        file: Option<&Path>,
        flags: &FlagOverrides,
    ) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Box::new(figment::Error::from(format!(
                    "configuration file {} does not exist",
                    path.display()
                ))));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(
                Env::prefixed("SEALPOST_")
                    .ignore(&NOT_CONFIG_KEYS)
                    .split("__"),
            )
            .merge(Serialized::defaults(flags))
            .extract::<Config>()
            .map_err(Box::new)
    }

    /// The configuration as TOML, every secret that is set shown as `***`.
    pub fn redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Whether users reach this relay over HTTPS: it serves TLS itself, or its public address
    /// is https:// (a proxy terminates TLS).
    pub fn https(&self) -> bool {
        self.tls.enabled() || self.public_url.trim().starts_with("https://")
    }

    /// Whether the session cookie is marked `Secure` (see `SessionConfig::secure_cookie`).
    pub fn secure_cookie(&self) -> bool {
        self.sessions.secure_cookie.unwrap_or_else(|| self.https())
    }

    /// The first of `problems()`, if any (a relay does not start with one).
    pub fn check(&self) -> Result<(), String> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every setting that is wrong, or valid alone but wrong with another.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let public_url = self.public_url.trim();
        let has_scheme =
            |text: &str, schemes: &[&str]| schemes.iter().any(|scheme| text.starts_with(scheme));
        if !public_url.is_empty() && !has_scheme(public_url, &["https://", "http://"]) {
            problems.push(format!(
                "public_url must start with https:// (or http://), not {public_url:?}"
            ));
        }
        let contact = self.security.contact.trim();
        if !contact.is_empty() && !has_scheme(contact, &["mailto:", "https://", "tel:"]) {
            problems.push(format!(
                "security.contact must be a mailto:, https:// or tel: address, not {contact:?}"
            ));
        }
        if [
            contact,
            self.security.policy.as_str(),
            self.security.preferred_languages.as_str(),
        ]
        .iter()
        .any(|value| value.chars().any(char::is_control))
        {
            problems.push("the [security] values must be single lines".to_owned());
        }
        if self.blobs.backend == BlobBackend::S3
            && let Err(problem) = self.blobs.s3.check()
        {
            problems.push(problem);
        }
        let mut addresses = vec![("listen", self.listen)];
        addresses.extend(
            self.tls
                .redirect_listen
                .map(|address| ("[tls] redirect_listen", address)),
        );
        addresses.extend(
            self.metrics
                .listen
                .map(|address| ("[metrics] listen", address)),
        );
        for (index, (name, address)) in addresses.iter().enumerate() {
            if address.port() != 0
                && let Some((other, _)) = addresses[..index]
                    .iter()
                    .find(|(_, earlier)| earlier == address)
            {
                problems.push(format!("{name} and {other} are both {address}"));
            }
        }
        let token = self.metrics.token.dangerously_expose();
        if !token.is_empty() && (token.len() < 32 || token.chars().any(char::is_whitespace)) {
            problems.push(
                "[metrics] token must be at least 32 characters without spaces (e.g. the output of `openssl rand -hex 32`)"
                    .to_owned(),
            );
        }
        let tls = &self.tls;
        if tls.enabled() == tls.key_file.as_os_str().is_empty() {
            problems.push("[tls] needs both cert_file and key_file (or neither)".to_owned());
        }
        if tls.redirect_listen.is_some() && !tls.enabled() {
            problems.push(
                "[tls] redirect_listen redirects to the relay's own HTTPS: it needs cert_file and key_file"
                    .to_owned(),
            );
        }
        if self.https() && self.sessions.secure_cookie == Some(false) {
            problems.push(format!(
                "sessions.secure_cookie = false, but users reach this relay over HTTPS ({}): the session cookie must be Secure; remove the setting",
                if tls.enabled() {
                    "[tls] is on".to_owned()
                } else {
                    format!("public_url is {public_url}")
                }
            ));
        }
        // Checkout's return address comes only from here: taken from a request's Origin, a
        // payer could be sent back anywhere the request claimed.
        if self.stripe.enabled() && public_url.is_empty() {
            problems.push(
                "card payments ([stripe]) need public_url, the address payers return to, e.g. https://sealpost.example.com"
                    .to_owned(),
            );
        }
        problems
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail fixes the closure's error type to figment::Error"
)]
mod tests {
    use super::*;
    use figment::Jail;

    const EXAMPLE: &str = include_str!("../sealpost.example.toml");

    #[test]
    fn layers_apply_in_order_defaults_file_env_flags() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "relay.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n[log]\nformat = \"json\"\n",
            )?;
            jail.set_env("SEALPOST_DATA_DIR", "/from/env");
            jail.set_env("SEALPOST_LIMITS__JSON_BODY_BYTES", "2048");
            let flags = FlagOverrides {
                listen: Some(SocketAddr::from(([127, 0, 0, 1], 7000))),
                data_dir: None,
            };
            let config = Config::load(Some(Path::new("relay.toml")), &flags).map_err(|e| *e)?;
            assert_eq!(
                config.listen,
                SocketAddr::from(([127, 0, 0, 1], 7000)),
                "flag wins"
            );
            assert_eq!(
                config.data_dir,
                PathBuf::from("/from/env"),
                "env beats file"
            );
            assert_eq!(config.log.format, LogFormat::Json, "file beats default");
            assert_eq!(config.log.filter, "info", "default kept");
            assert_eq!(config.limits.json_body_bytes, 2048, "nested env key");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        let smtp = SmtpConfig {
            url: Secret::new("smtps://user:hunter2@mail.example:465".to_owned()),
            ..SmtpConfig::default()
        };
        let printed = format!("{smtp:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("***"));
        let stripe = StripeConfig {
            secret_key: Secret::new("sk_test_hunter3".to_owned()),
            webhook_secret: Secret::new("whsec_hunter4".to_owned()),
            ..StripeConfig::default()
        };
        let printed = format!("{stripe:?}");
        assert!(
            !printed.contains("hunter3") && !printed.contains("hunter4"),
            "{printed}"
        );
        assert!(stripe.enabled() && !StripeConfig::default().enabled());
        let blobs = BlobsConfig {
            backend: BlobBackend::S3,
            s3: S3Config {
                bucket: "firm".to_owned(),
                secret_access_key: Secret::new("s3-hunter5".to_owned()),
                ..S3Config::default()
            },
        };
        let printed = format!("{blobs:?}");
        assert!(
            !printed.contains("hunter5") && printed.contains("***"),
            "{printed}"
        );
        let config = Config {
            metrics: MetricsConfig {
                token: Secret::new("metrics-hunter6-0123456789abcdef0123".to_owned()),
                ..MetricsConfig::default()
            },
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter6"), "{printed}");
        let all = Config {
            smtp,
            stripe,
            blobs,
            ..config
        };
        let printed = all.redacted_toml().expect("TOML");
        assert!(!printed.contains("hunter"), "{printed}");
        assert_eq!(printed.matches("\"***\"").count(), 5, "{printed}");
    }

    #[test]
    fn the_bucket_comes_from_the_environment_and_is_checked() {
        Jail::expect_with(|jail| {
            jail.set_env("SEALPOST_BLOBS__BACKEND", "s3");
            let error = Config::load(None, &FlagOverrides::default()).expect_err("no bucket");
            assert!(error.to_string().contains("bucket"), "{error}");
            jail.set_env("SEALPOST_BLOBS__S3__BUCKET", "firm-chunks");
            jail.set_env("SEALPOST_BLOBS__S3__ENDPOINT", "http://127.0.0.1:9000");
            let error = Config::load(None, &FlagOverrides::default()).expect_err("plain http");
            assert!(error.to_string().contains("allow_http"), "{error}");
            jail.set_env("SEALPOST_BLOBS__S3__ALLOW_HTTP", "true");
            jail.set_env("SEALPOST_BLOBS__S3__SECRET_ACCESS_KEY", "s3-hunter6");
            let config = Config::load(None, &FlagOverrides::default()).map_err(|e| *e)?;
            assert_eq!(config.blobs.backend, BlobBackend::S3);
            assert_eq!(config.blobs.s3.bucket, "firm-chunks");
            assert_eq!(
                config.blobs.s3.secret_access_key.dangerously_expose(),
                "s3-hunter6"
            );
            Ok(())
        });
    }

    #[test]
    fn card_payments_need_the_relays_own_address() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "pay.toml",
                "[stripe]\nsecret_key = \"sk_test_x\"\nwebhook_secret = \"whsec_x\"\n",
            )?;
            let error = Config::load(Some(Path::new("pay.toml")), &FlagOverrides::default())
                .expect_err("no public_url");
            assert!(error.to_string().contains("need public_url"), "{error}");
            jail.set_env("SEALPOST_PUBLIC_URL", "https://sealpost.example");
            let config = Config::load(Some(Path::new("pay.toml")), &FlagOverrides::default())
                .map_err(|e| *e)?;
            assert!(config.stripe.enabled());
            jail.set_env("SEALPOST_PUBLIC_URL", "sealpost.example");
            let error = Config::load(Some(Path::new("pay.toml")), &FlagOverrides::default())
                .expect_err("no scheme");
            assert!(error.to_string().contains("https://"), "{error}");
            jail.set_env("SEALPOST_PUBLIC_URL", "https://sealpost.example");
            jail.set_env("SEALPOST_SECURITY__CONTACT", "security@firm.example");
            let error = Config::load(Some(Path::new("pay.toml")), &FlagOverrides::default())
                .expect_err("a contact without a scheme");
            assert!(error.to_string().contains("mailto:"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn https_makes_cookies_secure_and_an_insecure_cookie_over_https_is_refused() {
        Jail::expect_with(|jail| {
            let load = || Config::load(None, &FlagOverrides::default());
            let config = load().map_err(|e| *e)?;
            assert!(
                !config.https() && !config.secure_cookie(),
                "plain http by default"
            );
            jail.set_env("SEALPOST_PUBLIC_URL", "https://sealpost.example");
            let config = load().map_err(|e| *e)?;
            assert!(
                config.https() && config.secure_cookie(),
                "behind an https proxy"
            );
            jail.set_env("SEALPOST_SESSIONS__SECURE_COOKIE", "false");
            let error = load().expect_err("an insecure cookie over https");
            assert!(error.to_string().contains("must be Secure"), "{error}");
            jail.set_env("SEALPOST_PUBLIC_URL", "http://sealpost.internal");
            jail.set_env("SEALPOST_TLS__CERT_FILE", "/etc/sealpost/cert.pem");
            let error = load().expect_err("a certificate without its key");
            assert!(
                error.to_string().contains("both cert_file and key_file"),
                "{error}"
            );
            jail.set_env("SEALPOST_TLS__KEY_FILE", "/etc/sealpost/key.pem");
            let error = load().expect_err("TLS served here with an insecure cookie");
            assert!(error.to_string().contains("[tls] is on"), "{error}");
            jail.set_env("SEALPOST_SESSIONS__SECURE_COOKIE", "true");
            jail.set_env("SEALPOST_TLS__MIN_VERSION", "1.3");
            jail.set_env("SEALPOST_TLS__REDIRECT_LISTEN", "0.0.0.0:80");
            let config = load().map_err(|e| *e)?;
            assert!(config.tls.enabled() && config.secure_cookie());
            assert_eq!(config.tls.min_version, TlsVersion::V1_3);
            assert_eq!(
                config.tls.redirect_listen,
                Some(SocketAddr::from(([0, 0, 0, 0], 80)))
            );
            jail.set_env("SEALPOST_TLS__CERT_FILE", "");
            jail.set_env("SEALPOST_TLS__KEY_FILE", "");
            let error = load().expect_err("a redirect to no HTTPS");
            assert!(error.to_string().contains("redirect_listen"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "lissen = \"127.0.0.1:1\"\n")?;
            let error = Config::load(Some(Path::new("typo.toml")), &FlagOverrides::default())
                .expect_err("a typo is refused");
            assert!(error.to_string().contains("lissen"), "{error}");
            let error = Config::load(Some(Path::new("absent.toml")), &FlagOverrides::default())
                .expect_err("a missing file is refused");
            assert!(error.to_string().contains("does not exist"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("example.toml", EXAMPLE)?;
            let config = Config::load(Some(Path::new("example.toml")), &FlagOverrides::default())
                .map_err(|e| *e)?;
            assert_eq!(config, Config::default());
            Ok(())
        });
    }
}
