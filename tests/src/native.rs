//! A native client of the relay's HTTP API for tests that need no browser: it does what the
//! web app does, with `shared`'s cryptography (accounts from a fixture key, bundles encrypted
//! chunk by chunk, link keys, opening and decrypting), over a real socket with reqwest. It
//! keeps the session cookie and the CSRF token like a browser would.

use anyhow::{Context as _, bail};
use rand_core::RngCore as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::crypto::kdf::{KdfParams, link_keys_from_otp_key};
use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, LinkKeys, LinkSecret, Manifest,
    ManifestFile, OsRng, OtpKey, Passphrase, SealedChunk, UserPrivateKey, derive_link_keys,
    derive_master_key, padded_size,
};
use shared::ids::Id;
use shared::wire;

const ALICE: &[u8] = include_bytes!("../../shared/src/crypto/tests/fixtures/test-alice-3072.pk8");
const BOB: &[u8] = include_bytes!("../../shared/src/crypto/tests/fixtures/test-bob-3072.pk8");

/// Chunk uploads the native client keeps in flight.
const UPLOADS_IN_FLIGHT: usize = 4;

/// Which fixture key pair an account uses (key generation is slow and not what these tests
/// are about; two pairs let a test tell readers apart by their keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPair {
    Alice,
    Bob,
}

impl KeyPair {
    fn der(self) -> &'static [u8] {
        match self {
            KeyPair::Alice => ALICE,
            KeyPair::Bob => BOB,
        }
    }

    /// The private key.
    pub fn private(self) -> anyhow::Result<UserPrivateKey> {
        Ok(UserPrivateKey::from_pkcs8_der(self.der())?)
    }

    /// The public key's SPKI bytes.
    pub fn public_spki(self) -> anyhow::Result<Vec<u8>> {
        Ok(self.private()?.public_key()?.spki_der().to_vec())
    }
}

/// An answer: its status and its JSON body (`Null` when it has none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The relay's error code, if it refused.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The body as `T`, if the status was 2xx.
    pub fn ok<T: DeserializeOwned>(self) -> anyhow::Result<T> {
        if !(200..300).contains(&self.status) {
            bail!("HTTP {}: {}", self.status, self.body);
        }
        serde_json::from_value(self.body).context("an answer of the expected shape")
    }
}

/// A client of one relay, logged in or not.
#[derive(Debug, Clone)]
pub struct NativeClient {
    pub base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
    /// The account's key pair, once signed up.
    pub keys: Option<KeyPair>,
    /// The account's user id, once signed up.
    pub user: Option<Id>,
}

/// A one-time password with its salt and `o = argon2id(OTP, salt)` computed once, so that
/// many links can share it without paying argon2id's 64 MiB and ~200 ms each.
#[derive(Debug)]
pub struct OtpFixture {
    pub otp: String,
    pub salt: [u8; 16],
    key: OtpKey,
}

impl OtpFixture {
    /// Runs argon2id once for `otp` under a fresh salt.
    pub fn new(otp: &str) -> anyhow::Result<Self> {
        let mut salt = [0_u8; 16];
        OsRng.fill_bytes(&mut salt);
        let key = OtpKey::dangerously_from_bytes(*shared::crypto::kdf::argon2id(
            otp.as_bytes(),
            &salt,
            &KdfParams::CLIENT_V1,
        )?);
        Ok(Self {
            otp: otp.to_owned(),
            salt,
            key,
        })
    }
}

impl OtpFixture {
    /// The proof that opens `link` (made under this fixture).
    pub fn proof(&self, link: &SentLink) -> [u8; 32] {
        *link_keys_from_otp_key(&link.secret, &self.key, &link.id)
            .proof
            .dangerously_expose_bytes()
    }
}

/// A link as its sender hands it out: id, secret (the fragment) and the OTP.
#[derive(Debug)]
pub struct SentLink {
    pub id: Id,
    pub secret: LinkSecret,
    pub otp: String,
    pub plaintexts: Vec<Vec<u8>>,
}

impl NativeClient {
    /// An anonymous client (a recipient, a webhook sender).
    pub fn anonymous(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            cookie: None,
            csrf: None,
            keys: None,
            user: None,
        }
    }

    /// Signs up `<handle>@example.com` as the owner of a new organisation and, through the
    /// admin socket in `data_dir`, has the operator verify it.
    pub async fn verified_owner(
        base: &str,
        data_dir: &std::path::Path,
        handle: &str,
    ) -> anyhow::Result<Self> {
        Self::verified_owner_with(base, data_dir, handle, KeyPair::Alice).await
    }

    /// `verified_owner` with a chosen key pair.
    pub async fn verified_owner_with(
        base: &str,
        data_dir: &std::path::Path,
        handle: &str,
        pair: KeyPair,
    ) -> anyhow::Result<Self> {
        let keys = account_keys(crate::PASSWORD, pair)?;
        let client = Self::sign_up(base, &format!("{handle}@example.com"), handle, &keys, pair)
            .await?
            .map_err(|answer| anyhow::anyhow!("sign-up refused: {answer:?}"))?;
        let answer = relay::admin::send(
            data_dir,
            &relay::admin::AdminCommand::OrgVerify {
                handle: handle.to_owned(),
            },
        )
        .await?
        .context("the relay answers on its admin socket")?;
        anyhow::ensure!(answer.ok, "{}", answer.message);
        Ok(client)
    }

    /// Signs up `email` as the owner of a new organisation `handle` with ready-made `keys`
    /// (see `account_keys`), without verifying it; the relay's refusal if it refused.
    pub async fn sign_up(
        base: &str,
        email: &str,
        handle: &str,
        keys: &wire::AccountKeys,
        pair: KeyPair,
    ) -> anyhow::Result<Result<Self, Answer>> {
        let mut client = Self::anonymous(base);
        client.keys = Some(pair);
        let body = serde_json::json!({
            "email": email,
            "name": format!("Owner of {handle}"),
            "organisation": { "name": format!("Firm {handle}"), "handle": handle },
            "keys": keys,
        });
        let response = client
            .http
            .post(format!("{}/api/auth/signup", client.base))
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            return Ok(Err(answer(response).await?));
        }
        if response.status() == reqwest::StatusCode::ACCEPTED {
            // A relay that sends mail: open the mailed link, then log in.
            for token in crate::smtp::mailed_tokens(email, "confirm") {
                let confirmed = client
                    .post(
                        "/api/auth/signup/confirm",
                        Some(&wire::SignupConfirmRequest {
                            token: token.into(),
                        }),
                    )
                    .await?;
                if confirmed.status == 200 {
                    return Self::log_in(base, email, crate::PASSWORD, pair).await;
                }
            }
            anyhow::bail!("no confirmation link for {email} reached an SMTP sink");
        }
        client.take_session(response).await?;
        Ok(Ok(client))
    }

    /// Logs `email` in with `password` as the web app does (prelogin, argon2id, auth key); the
    /// relay's refusal if it refused. Accounts with a second factor are not handled.
    pub async fn log_in(
        base: &str,
        email: &str,
        password: &str,
        pair: KeyPair,
    ) -> anyhow::Result<Result<Self, Answer>> {
        let mut client = Self::anonymous(base);
        client.keys = Some(pair);
        let auth_key = client.auth_key(email, password).await?;
        let response = client
            .http
            .post(format!("{}/api/auth/login", client.base))
            .json(&wire::LoginRequest {
                email: email.to_owned(),
                auth_key: auth_key.into(),
            })
            .send()
            .await?;
        if !response.status().is_success() {
            return Ok(Err(answer(response).await?));
        }
        let cookie = session_cookie(&response)?;
        let body: wire::LoginResponse = response.json().await?;
        let session = body.session.context("a session (no second factor)")?;
        client.csrf = Some(session.csrf_token.dangerously_expose().to_owned());
        client.user = Some(session.user.id);
        client.cookie = Some(cookie);
        Ok(Ok(client))
    }

    /// The salt `prelogin` answers for `email` (a fake one for unknown addresses).
    pub async fn prelogin_salt(&self, email: &str) -> anyhow::Result<[u8; 16]> {
        let answer: wire::PreloginResponse = self
            .post(
                "/api/auth/prelogin",
                Some(&wire::PreloginRequest {
                    email: email.to_owned(),
                }),
            )
            .await?
            .ok()?;
        Ok(answer.salt)
    }

    /// The auth key `password` yields for `email` under the salt the relay answers.
    pub async fn auth_key(&self, email: &str, password: &str) -> anyhow::Result<[u8; 32]> {
        let salt = self.prelogin_salt(email).await?;
        let master = derive_master_key(
            &Passphrase::new(password.to_owned()),
            &salt,
            &KdfParams::CLIENT_V1,
        )?;
        Ok(*master.auth_key().dangerously_expose_bytes())
    }

    /// The body of a password change of this account from `old` to `new` (keys re-wrapped
    /// under a fresh salt).
    pub async fn password_change(
        &self,
        email: &str,
        old: &str,
        new: &str,
    ) -> anyhow::Result<wire::ChangePasswordRequest> {
        let current_auth_key = self.auth_key(email, old).await?;
        let pair = self.keys.context("an account with keys")?;
        Ok(wire::ChangePasswordRequest {
            current_auth_key: current_auth_key.into(),
            keys: account_keys(new, pair)?,
        })
    }

    /// The `Cookie` and `X-CSRF-Token` header values of this client's session.
    pub fn session_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(cookie) = &self.cookie {
            headers.push(("cookie", cookie.clone()));
        }
        if let Some(csrf) = &self.csrf {
            headers.push(("x-csrf-token", csrf.clone()));
        }
        headers
    }

    async fn take_session(&mut self, response: reqwest::Response) -> anyhow::Result<()> {
        let cookie = session_cookie(&response)?;
        let status = response.status();
        let session: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "HTTP {status}: {session}");
        self.csrf = session["csrf_token"].as_str().map(str::to_owned);
        self.user = serde_json::from_value(session["user"]["id"].clone()).ok();
        self.cookie = Some(cookie);
        Ok(())
    }

    /// Invites `<name>@example.com` as `role` into this owner's organisation and signs them
    /// up through the invitation, with `pair`; the new member, logged in.
    pub async fn invite(
        &self,
        name: &str,
        role: wire::Role,
        pair: KeyPair,
    ) -> anyhow::Result<Self> {
        let keys = account_keys(crate::PASSWORD, pair)?;
        self.invite_with_keys(name, role, pair, &keys).await
    }

    /// `invite` with ready-made account keys (see `account_keys`).
    pub async fn invite_with_keys(
        &self,
        name: &str,
        role: wire::Role,
        pair: KeyPair,
        keys: &wire::AccountKeys,
    ) -> anyhow::Result<Self> {
        let email = format!("{name}@example.com");
        let invite: wire::InviteView = self
            .post(
                "/api/org/invites",
                Some(&wire::CreateInviteRequest {
                    email: email.clone(),
                    role,
                }),
            )
            .await?
            .ok()?;
        let token = match invite.token {
            Some(token) => token.dangerously_expose().to_owned(),
            // A relay that sends mail hands the token only to the address.
            None => self.mailed_invitation(&email).await?,
        };
        let mut member = Self::anonymous(&self.base);
        member.keys = Some(pair);
        let body = serde_json::json!({
            "email": email,
            "name": name,
            "invite": token,
            "keys": keys,
        });
        let response = member
            .http
            .post(format!("{}/api/auth/signup", member.base))
            .json(&body)
            .send()
            .await?;
        member.take_session(response).await?;
        Ok(member)
    }

    /// The token of the invitation this relay mailed to `email`.
    async fn mailed_invitation(&self, email: &str) -> anyhow::Result<String> {
        for token in crate::smtp::mailed_tokens(email, "join") {
            let lookup = self
                .post(
                    "/api/auth/invite",
                    Some(&wire::InviteLookupRequest {
                        token: token.as_str().into(),
                    }),
                )
                .await?;
            if lookup.status == 200 {
                return Ok(token);
            }
        }
        anyhow::bail!("no invitation for {email} from this relay reached an SMTP sink")
    }

    /// The user id, which every signed-up client has.
    pub fn id(&self) -> anyhow::Result<Id> {
        self.user.context("a signed-up client")
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    /// `POST path` with a JSON body (or none).
    pub async fn post<B: Serialize>(&self, path: &str, body: Option<&B>) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put<B: Serialize>(&self, path: &str, body: &B) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn call<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Origin", &self.base);
        request = self.authorize(request);
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request.send().await?).await
    }

    fn authorize(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(cookie) = &self.cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("X-CSRF-Token", csrf);
        }
        request
    }

    /// `POST /api/sends` for files of these plaintext sizes (a day's expiry, one open, no
    /// invoice): the relay's answer, a `CreateSendResponse` when it reserved the send.
    pub async fn reserve_send(&self, files: Vec<u64>) -> anyhow::Result<Answer> {
        self.post(
            "/api/sends",
            Some(&wire::CreateSendRequest {
                files,
                expires_in_seconds: 86_400,
                max_opens: 1,
                recipient_email: None,
                invoice: None,
            }),
        )
        .await
    }

    /// Encrypts `files` and sends them as a Secure Send (with `invoice`, behind a paywall);
    /// the link and what it carries.
    pub async fn send_files(
        &self,
        files: &[Vec<u8>],
        max_opens: u32,
        invoice: Option<wire::InvoiceTerms>,
    ) -> anyhow::Result<SentLink> {
        let otp = OtpFixture::new(&format!("otp-{}", Id::generate(&mut OsRng)))?;
        self.send_files_with_otp(files, max_opens, invoice, &otp)
            .await
    }

    /// `send_files` under an OTP whose argon2id was run once (`OtpFixture`), for tests and
    /// benchmarks that make many links.
    pub async fn send_files_with_otp(
        &self,
        files: &[Vec<u8>],
        max_opens: u32,
        invoice: Option<wire::InvoiceTerms>,
        otp: &OtpFixture,
    ) -> anyhow::Result<SentLink> {
        let link = self
            .send_files_tracked(files, max_opens, invoice, otp, |_| {})
            .await?;
        std::sync::Arc::try_unwrap(link).map_err(|_| anyhow::anyhow!("the link is shared"))
    }

    /// `send_files_with_otp` that hands the link to `track` just before asking for the
    /// finalize (whose answer may never come, when a test kills the relay).
    pub async fn send_files_tracked(
        &self,
        files: &[Vec<u8>],
        max_opens: u32,
        invoice: Option<wire::InvoiceTerms>,
        otp: &OtpFixture,
        track: impl FnOnce(std::sync::Arc<SentLink>),
    ) -> anyhow::Result<std::sync::Arc<SentLink>> {
        let key = BundleKey::generate(&mut OsRng);
        let mut entries = Vec::new();
        for (index, bytes) in files.iter().enumerate() {
            entries.push(ManifestFile::new(
                format!("file-{index}.bin"),
                "application/octet-stream".to_owned(),
                bytes.len() as u64,
                &mut OsRng,
            )?);
        }
        let created: wire::CreateSendResponse = self
            .post(
                "/api/sends",
                Some(&wire::CreateSendRequest {
                    files: entries.iter().map(ManifestFile::stream_size).collect(),
                    expires_in_seconds: 86_400,
                    max_opens,
                    recipient_email: None,
                    invoice,
                }),
            )
            .await?
            .ok()?;
        let prefix = format!("/api/sends/{}", created.id);
        if let Some(refusal) = self
            .upload_chunks(&prefix, &key, files, &entries, |request| {
                self.authorize(request)
            })
            .await?
        {
            bail!("a chunk was refused: {refusal:?}");
        }
        let secret = LinkSecret::generate(&mut OsRng);
        let keys = link_keys_from_otp_key(&secret, &otp.key, &created.id);
        let guard = wire::LinkGuard::new(
            otp.salt,
            KdfParams::CLIENT_V1,
            &keys,
            keys.link_key.wrap(&key, &mut OsRng),
            &key.receipt_key(),
        );
        let manifest = Manifest::new(entries, None).seal(&key, &mut OsRng)?;
        let link = std::sync::Arc::new(SentLink {
            id: created.id,
            secret,
            otp: otp.otp.clone(),
            plaintexts: files.to_vec(),
        });
        track(link.clone());
        self.post(
            &format!("/api/sends/{}/finalize", created.id),
            Some(&wire::FinalizeSendRequest { guard, manifest }),
        )
        .await?
        .ok::<wire::SendView>()?;
        Ok(link)
    }

    /// `POST /api/links/{id}/open` with the right proof for `link` under `otp` (no argon2id:
    /// the fixture ran it), or with `wrong` a proof no OTP yields; the relay's answer.
    pub async fn open_with_otp(
        &self,
        link: &SentLink,
        otp: &OtpFixture,
        wrong: bool,
    ) -> anyhow::Result<Answer> {
        let proof = if wrong {
            let mut proof = [0_u8; 32];
            OsRng.fill_bytes(&mut proof);
            proof
        } else {
            *link_keys_from_otp_key(&link.secret, &otp.key, &link.id)
                .proof
                .dangerously_expose_bytes()
        };
        self.post(
            &format!("/api/links/{}/open", link.id),
            Some(&wire::OpenLinkRequest {
                proof: proof.into(),
            }),
        )
        .await
    }

    /// Opens `link` with `otp` as its recipient would: the relay's answer, and on success
    /// every file downloaded and decrypted.
    pub async fn open_link(
        &self,
        link: &SentLink,
        otp: &str,
    ) -> anyhow::Result<Result<Vec<Vec<u8>>, Answer>> {
        let info: wire::LinkInfo = self.get(&format!("/api/links/{}", link.id)).await?.ok()?;
        let keys = link_keys(&link.secret, otp, &info.otp_salt, link.id)?;
        self.open_with_keys(link, keys).await
    }

    /// Opens `link` with `otp` and returns only its download token (for measuring the
    /// transport: a browser GETting the same sealed chunks without decrypting them).
    pub async fn download_token(&self, link: &SentLink, otp: &str) -> anyhow::Result<String> {
        let info: wire::LinkInfo = self.get(&format!("/api/links/{}", link.id)).await?.ok()?;
        let keys = link_keys(&link.secret, otp, &info.otp_salt, link.id)?;
        let opened: wire::OpenLinkResponse = self
            .post(
                &format!("/api/links/{}/open", link.id),
                Some(&wire::OpenLinkRequest {
                    proof: (*keys.proof.dangerously_expose_bytes()).into(),
                }),
            )
            .await?
            .ok()?;
        Ok(opened.download_token.dangerously_expose().to_owned())
    }

    /// `open_link` under an OTP fixture (no argon2id here).
    pub async fn open_link_with_otp(
        &self,
        link: &SentLink,
        otp: &OtpFixture,
    ) -> anyhow::Result<Result<Vec<Vec<u8>>, Answer>> {
        let keys = link_keys_from_otp_key(&link.secret, &otp.key, &link.id);
        self.open_with_keys(link, keys).await
    }

    async fn open_with_keys(
        &self,
        link: &SentLink,
        keys: LinkKeys,
    ) -> anyhow::Result<Result<Vec<Vec<u8>>, Answer>> {
        let answer = self
            .post(
                &format!("/api/links/{}/open", link.id),
                Some(&wire::OpenLinkRequest {
                    proof: (*keys.proof.dangerously_expose_bytes()).into(),
                }),
            )
            .await?;
        if answer.status != 200 {
            return Ok(Err(answer));
        }
        let opened: wire::OpenLinkResponse = answer.ok()?;
        let key = keys.link_key.unwrap(&opened.wrapped_key)?;
        let manifest = Manifest::open(&key, &opened.manifest)?;
        let token = opened.download_token.clone();
        let files = self
            .download_chunks(
                &format!("/api/links/{}", link.id),
                &key,
                &manifest,
                |request| request.bearer_auth(token.dangerously_expose()),
            )
            .await?;
        Ok(Ok(files))
    }
}

/// A document's files and note, ready to upload.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub files: Vec<Vec<u8>>,
    pub names: Vec<String>,
    pub note: Option<String>,
}

impl Outgoing {
    pub fn new(files: Vec<Vec<u8>>) -> Self {
        let names = (0..files.len())
            .map(|i| format!("document-{i}.pdf"))
            .collect();
        Self {
            files,
            names,
            note: None,
        }
    }

    /// Each file's padded stream size, as reservations declare them.
    pub fn sizes(&self) -> Vec<u64> {
        self.files
            .iter()
            .map(|bytes| padded_size(bytes.len() as u64))
            .collect()
    }
}

impl NativeClient {
    /// Encrypts `outgoing` under a fresh `K`, uploads it into the reserved document (as its
    /// logged-in uploader, or with the reservation's upload token), wraps `K` to every reader
    /// the relay named (and, for an authorisation by link, under `link_key`) and finalizes.
    /// The readers' keys are used as served: tests of key checks do those checks themselves.
    pub async fn upload_document(
        &self,
        created: &wire::DocumentCreated,
        outgoing: &Outgoing,
        link_key: Option<&shared::crypto::LinkKey>,
    ) -> anyhow::Result<Answer> {
        match self
            .upload_document_chunks(created, outgoing, link_key)
            .await?
        {
            Ok(finalize) => self.finalize_document(created, &finalize).await,
            Err(refusal) => Ok(refusal),
        }
    }

    /// `upload_document` up to its finalize: the finalize's body once every chunk is stored,
    /// or the relay's refusal of a chunk.
    pub async fn upload_document_chunks(
        &self,
        created: &wire::DocumentCreated,
        outgoing: &Outgoing,
        link_key: Option<&shared::crypto::LinkKey>,
    ) -> anyhow::Result<Result<wire::FinalizeDocumentRequest, Answer>> {
        let key = BundleKey::generate(&mut OsRng);
        let mut entries = Vec::new();
        for (bytes, name) in outgoing.files.iter().zip(&outgoing.names) {
            entries.push(ManifestFile::new(
                name.clone(),
                "application/pdf".to_owned(),
                bytes.len() as u64,
                &mut OsRng,
            )?);
        }
        let prefix = format!("/api/documents/{}", created.id);
        if let Some(refusal) = self
            .upload_chunks(&prefix, &key, &outgoing.files, &entries, |request| {
                self.upload_auth(request, created)
            })
            .await?
        {
            return Ok(Err(refusal));
        }
        let mut readers = Vec::new();
        for holder in &created.readers {
            let public = shared::crypto::UserPublicKey::from_spki_der(&holder.public_key)?;
            readers.push(wire::ReaderKey {
                user: holder.user,
                wrapped_key: public.wrap(&key, &mut OsRng)?,
            });
        }
        let manifest = Manifest::new(entries, outgoing.note.clone()).seal(&key, &mut OsRng)?;
        Ok(Ok(wire::FinalizeDocumentRequest {
            readers,
            manifest,
            link_wrapped_key: link_key.map(|link_key| link_key.wrap(&key, &mut OsRng)),
        }))
    }

    /// `POST /api/documents/{id}/finalize` with `body`, as the document's uploader.
    pub async fn finalize_document(
        &self,
        created: &wire::DocumentCreated,
        body: &wire::FinalizeDocumentRequest,
    ) -> anyhow::Result<Answer> {
        let request = self
            .http
            .post(format!(
                "{}/api/documents/{}/finalize",
                self.base, created.id
            ))
            .json(body);
        answer(self.upload_auth(request, created).send().await?).await
    }

    fn upload_auth(
        &self,
        request: reqwest::RequestBuilder,
        created: &wire::DocumentCreated,
    ) -> reqwest::RequestBuilder {
        match &created.upload_token {
            Some(token) => request.bearer_auth(token.dangerously_expose()),
            None => self.authorize(request),
        }
    }

    /// Reads a document as a logged-in reader: the relay's refusal, or the manifest's names
    /// and note and every file decrypted with this account's private key.
    pub async fn read_document(&self, id: Id) -> anyhow::Result<Result<Received, Answer>> {
        let answer = self.get(&format!("/api/documents/{id}/key")).await?;
        if answer.status != 200 {
            return Ok(Err(answer));
        }
        let opened: wire::OpenDocumentResponse = answer.ok()?;
        let private = self.keys.context("an account with keys")?.private()?;
        let key = private.unwrap(&opened.wrapped_key)?;
        let manifest = Manifest::open(&key, &opened.manifest)?;
        let files = self
            .download_files(id, &key, &manifest, |request| self.authorize(request))
            .await?;
        Ok(Ok(Received {
            names: manifest
                .files
                .iter()
                .map(|file| file.name.clone())
                .collect(),
            note: manifest.note.clone(),
            files,
        }))
    }

    /// Downloads and decrypts every file of document `id` with `key`.
    pub async fn download_files(
        &self,
        id: Id,
        key: &BundleKey,
        manifest: &Manifest,
        auth: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        self.download_chunks(&format!("/api/documents/{id}"), key, manifest, auth)
            .await
    }

    /// Pads each file to its stream size, encrypts it under its file key and `PUT`s its chunks
    /// to `<prefix>/files/{f}/chunks/{n}`; the relay's answer if it refused one.
    async fn upload_chunks(
        &self,
        prefix: &str,
        key: &BundleKey,
        files: &[Vec<u8>],
        entries: &[ManifestFile],
        auth: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Option<Answer>> {
        use futures::StreamExt as _;
        // A few chunks in flight, as the browser keeps them: a large file is not paced by one
        // round trip (and one fsync) per chunk. The first refusal in chunk order is returned.
        let mut in_flight = futures::stream::FuturesOrdered::new();
        for (index, (bytes, entry)) in files.iter().zip(entries).enumerate() {
            let file = u32::try_from(index)?;
            let mut encryptor = ChunkEncryptor::new(
                &key.file_key(file),
                &entry.nonce_prefix,
                entry.stream_size(),
            )?;
            while !encryptor.is_finished() {
                let chunk = encryptor.next_index();
                let start = (chunk as usize * CHUNK_SIZE).min(bytes.len());
                let content = &bytes[start..start + entry.content_len(chunk)];
                let sealed = encryptor.encrypt_next(&entry.pad_chunk(chunk, content)?)?;
                let request = auth(
                    self.http
                        .put(format!("{}{prefix}/files/{file}/chunks/{chunk}", self.base))
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(sealed.as_bytes().to_vec()),
                );
                in_flight.push_back(async move { answer(request.send().await?).await });
                if in_flight.len() >= UPLOADS_IN_FLIGHT
                    && let Some(done) = in_flight.next().await
                {
                    let done: Answer = done?;
                    if done.status != 204 {
                        return Ok(Some(done));
                    }
                }
            }
        }
        while let Some(done) = in_flight.next().await {
            let done: Answer = done?;
            if done.status != 204 {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    /// Downloads every file's chunks from `<prefix>/files/{f}/chunks/{n}` and decrypts them.
    async fn download_chunks(
        &self,
        prefix: &str,
        key: &BundleKey,
        manifest: &Manifest,
        auth: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut files = Vec::new();
        for (index, entry) in manifest.files.iter().enumerate() {
            let file = u32::try_from(index)?;
            let mut decryptor = ChunkDecryptor::new(
                &key.file_key(file),
                &entry.nonce_prefix,
                entry.stream_size(),
            )?;
            let mut plaintext = Vec::new();
            for chunk in 0..entry.chunks {
                let request = self
                    .http
                    .get(format!("{}{prefix}/files/{file}/chunks/{chunk}", self.base));
                let bytes = auth(request)
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                let opened = decryptor.decrypt_next(&SealedChunk::from_bytes(bytes.to_vec()))?;
                plaintext.extend_from_slice(entry.strip_padding(chunk, opened.as_bytes())?);
            }
            decryptor.finish()?;
            files.push(plaintext);
        }
        Ok(files)
    }

    /// Makes an API key of this owner's or admin's organisation with `scopes`; its secret.
    pub async fn make_api_key(
        &self,
        name: &str,
        scopes: &[wire::ApiScope],
    ) -> anyhow::Result<String> {
        let made: wire::CreateApiKeyResponse = self
            .post(
                "/api/org/api-keys",
                Some(&wire::CreateApiKeyRequest {
                    name: name.to_owned(),
                    scopes: scopes.to_vec(),
                    expires_at: None,
                }),
            )
            .await?
            .ok()?;
        Ok(made.secret.dangerously_expose().to_owned())
    }

    /// `GET` with extra headers and no session (a provider by link).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await?).await
    }

    /// `POST` of JSON with extra headers and no session.
    pub async fn post_with<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await?).await
    }

    /// A raw request builder for this client's relay (for tests of odd inputs).
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.authorize(self.http.request(method, format!("{}{path}", self.base)))
    }
}

/// What a reader got out of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub names: Vec<String>,
    pub note: Option<String>,
    pub files: Vec<Vec<u8>>,
}

/// Sends a built request and reads the answer.
pub async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
    answer(request.send().await?).await
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(Answer { status, body })
}

fn link_keys(
    secret: &LinkSecret,
    otp: &str,
    otp_salt: &[u8; 16],
    id: Id,
) -> anyhow::Result<LinkKeys> {
    Ok(derive_link_keys(
        secret,
        &Passphrase::new(otp.to_owned()),
        otp_salt,
        &id,
        &KdfParams::CLIENT_V1,
    )?)
}

/// The `name=value` of the session cookie a response sets.
fn session_cookie(response: &reqwest::Response) -> anyhow::Result<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("sealpost_session="))
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
        .context("the relay set a session cookie")
}

/// Account keys for `password` around a fixture key pair (key generation is slow and not
/// what these tests are about).
pub fn account_keys(password: &str, pair: KeyPair) -> anyhow::Result<wire::AccountKeys> {
    let private = pair.private()?;
    let mut salt = [0_u8; 16];
    OsRng.fill_bytes(&mut salt);
    let master = derive_master_key(
        &Passphrase::new(password.to_owned()),
        &salt,
        &KdfParams::CLIENT_V1,
    )?;
    let sealed = master.wrap_key().seal_private_key(&private, &mut OsRng)?;
    Ok(wire::AccountKeys::new(
        private.public_key()?.spki_der(),
        salt,
        KdfParams::CLIENT_V1,
        sealed,
        &master.auth_key(),
    ))
}
