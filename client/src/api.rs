//! The one module of the client that speaks HTTP to the relay. Every call returns typed wire
//! values or an `ApiError` whose `Display` is a sentence a user can understand.

use gloo_net::http::{Request, RequestBuilder, Response};
use js_sys::Uint8Array;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::ids::Id;
use shared::wire;
use wasm_bindgen_futures::JsFuture;

/// What can go wrong talking to the relay, in words for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the relay could not be reached: check your connection and try again")]
    Network,
    #[error("{message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the relay answered something this app does not understand (HTTP {status})")]
    Unexpected { status: u16 },
}

impl ApiError {
    /// Whether trying the same request again may work (the network, the relay's own trouble,
    /// a body that arrived too slowly, or "too many requests, later"), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Network => true,
            ApiError::Refused { status, .. } | ApiError::Unexpected { status } => {
                *status >= 500 || *status == 408 || *status == 429
            }
        }
    }

    /// Whether the relay could not be reached at all: no network, or a gateway in front of it
    /// that found no relay (502, 504), or the relay saying it is unavailable for now (503).
    /// Transfers wait for these to pass; any other error, even a server error such as a full
    /// disk (507), ends them with its message.
    pub fn is_unreachable(&self) -> bool {
        match self {
            ApiError::Network => true,
            ApiError::Refused { status, .. } | ApiError::Unexpected { status } => {
                matches!(*status, 502..=504)
            }
        }
    }

    /// The relay's stable error code, if it refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Refused { code, .. } => Some(code),
            ApiError::Network | ApiError::Unexpected { .. } => None,
        }
    }
}

/// `GET /api/health`.
pub async fn health() -> Result<wire::HealthResponse, ApiError> {
    let response = Request::get("/api/health")
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    decode(response).await
}

/// `GET /api/openapi.json`: the API's OpenAPI document, for the reference page.
pub async fn openapi_document() -> Result<serde_json::Value, ApiError> {
    let response = Request::get("/api/openapi.json")
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    decode(response).await
}

/// `POST /api/auth/prelogin`.
pub async fn prelogin(email: &str) -> Result<wire::PreloginResponse, ApiError> {
    post(
        "/api/auth/prelogin",
        &wire::PreloginRequest {
            email: email.to_owned(),
        },
    )
    .await
}

/// What a sign-up leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupOutcome {
    /// The account exists and the relay set the session cookie.
    LoggedIn(Box<AuthorizedApi>),
    /// The relay confirms addresses by mail: nothing exists until the mailed link is opened.
    ConfirmByMail(wire::SignupPending),
}

/// `POST /api/auth/signup`: 201 with a session, or 202 when the address must confirm first.
pub async fn signup(request: &wire::SignupRequest) -> Result<SignupOutcome, ApiError> {
    let request = Request::post("/api/auth/signup")
        .json(request)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    let response = request.send().await.map_err(|_| ApiError::Network)?;
    if response.status() == 202 {
        let pending: wire::SignupPending = decode(response).await?;
        return Ok(SignupOutcome::ConfirmByMail(pending));
    }
    let session: wire::SessionResponse = decode(response).await?;
    Ok(SignupOutcome::LoggedIn(Box::new(AuthorizedApi::new(
        session,
    ))))
}

/// `POST /api/auth/signup/confirm`: the mailed link creates the account.
pub async fn confirm_signup(token: &str) -> Result<wire::SignupConfirmed, ApiError> {
    post(
        "/api/auth/signup/confirm",
        &wire::SignupConfirmRequest {
            token: token.into(),
        },
    )
    .await
}

/// What a right password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in (the relay set the session cookie).
    LoggedIn(Box<AuthorizedApi>),
    /// A second factor is needed: redeem this ticket with a code.
    NeedsCode { ticket: String },
}

/// `POST /api/auth/login`.
pub async fn login(request: &wire::LoginRequest) -> Result<LoginOutcome, ApiError> {
    let answer: wire::LoginResponse = post("/api/auth/login", request).await?;
    match (answer.session, answer.mfa_ticket) {
        (Some(session), _) => Ok(LoginOutcome::LoggedIn(Box::new(AuthorizedApi::new(
            session,
        )))),
        (None, Some(ticket)) => Ok(LoginOutcome::NeedsCode {
            ticket: ticket.dangerously_expose().to_owned(),
        }),
        (None, None) => Err(ApiError::Unexpected { status: 200 }),
    }
}

/// `POST /api/auth/mfa/verify`: the second step; the relay sets the session cookie.
pub async fn verify_code(ticket: &str, code: &str) -> Result<AuthorizedApi, ApiError> {
    let request = wire::MfaVerifyRequest {
        ticket: ticket.into(),
        code: code.into(),
    };
    let answer: wire::LoginResponse = post("/api/auth/mfa/verify", &request).await?;
    answer
        .session
        .map(AuthorizedApi::new)
        .ok_or(ApiError::Unexpected { status: 200 })
}

/// `GET /api/session`: the session this browser already has, if any.
pub async fn resume() -> Result<Option<AuthorizedApi>, ApiError> {
    let state: wire::SessionState = send(Request::get("/api/session")).await?;
    Ok(state.session.map(AuthorizedApi::new))
}

/// `POST /api/auth/invite`: what an invitation is for.
pub async fn invite_lookup(token: &str) -> Result<wire::InviteLookupResponse, ApiError> {
    post(
        "/api/auth/invite",
        &wire::InviteLookupRequest {
            token: token.into(),
        },
    )
    .await
}

/// `GET /api/links/{id}`: a link's public facts.
pub async fn link_info(id: Id) -> Result<wire::LinkInfo, ApiError> {
    send(Request::get(&format!("/api/links/{id}"))).await
}

/// `POST /api/links/{id}/open`: spends one open if the proof is right.
pub async fn open_link(id: Id, proof: &[u8; 32]) -> Result<wire::OpenLinkResponse, ApiError> {
    post(
        &format!("/api/links/{id}/open"),
        &wire::OpenLinkRequest {
            proof: (*proof).into(),
        },
    )
    .await
}

/// `GET /api/links/{id}/files/{file}/chunks/{chunk}`: one sealed chunk, kept in JavaScript
/// memory (it never passes through WASM).
pub async fn link_chunk(
    id: Id,
    file: u32,
    chunk: u32,
    token: &str,
) -> Result<Uint8Array, ApiError> {
    bytes(
        Request::get(&format!("/api/links/{id}/files/{file}/chunks/{chunk}"))
            .header("Authorization", &format!("Bearer {token}")),
    )
    .await
}

/// A binary answer, kept in JavaScript memory (it never passes through WASM). Asked with
/// `cache: "no-store"`: the relay's `Cache-Control: no-store` alone does not keep Firefox from
/// holding every answer in its parent process's memory cache (measured: its parent grew by
/// the whole file while a page fetched a large bundle's chunks).
async fn bytes(request: RequestBuilder) -> Result<Uint8Array, ApiError> {
    let response = request
        .cache(web_sys::RequestCache::NoStore)
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if !response.ok() {
        return Err(refusal(response).await);
    }
    let status = response.status();
    let raw: web_sys::Response = response.into();
    let buffer = raw
        .array_buffer()
        .map_err(|_| ApiError::Unexpected { status })?;
    let buffer = JsFuture::from(buffer)
        .await
        .map_err(|_| ApiError::Network)?;
    Ok(Uint8Array::new(&buffer))
}

/// `POST /api/links/{id}/receipt`.
pub async fn send_receipt(id: Id, request: &wire::ReceiptRequest) -> Result<(), ApiError> {
    let response = Request::post(&format!("/api/links/{id}/receipt"))
        .json(request)
        .map_err(|_| ApiError::Unexpected { status: 0 })?
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if response.ok() {
        return Ok(());
    }
    Err(refusal(response).await)
}

/// `POST /api/invoices/{id}/checkout`: where to pay the invoice by card.
pub async fn checkout(invoice: Id) -> Result<wire::CheckoutResponse, ApiError> {
    send(Request::post(&format!("/api/invoices/{invoice}/checkout"))).await
}

/// How an upload into a document is authorised: the uploader's session, or (without an
/// account) the upload token the relay handed out with the reservation.
#[derive(Debug, Clone)]
pub enum UploadAuth {
    Session(Box<AuthorizedApi>),
    Token(String),
}

impl UploadAuth {
    fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            UploadAuth::Session(api) => {
                request.header("X-CSRF-Token", api.session.csrf_token.dangerously_expose())
            }
            // No cookie: a logged-in browser uploading to a portal acts as nobody in particular.
            UploadAuth::Token(token) => request
                .header("Authorization", &format!("Bearer {token}"))
                .credentials(web_sys::RequestCredentials::Omit),
        }
    }
}

/// `PUT /api/documents/{id}/files/{file}/chunks/{chunk}`.
pub async fn put_document_chunk(
    auth: &UploadAuth,
    id: Id,
    file: u32,
    chunk: u32,
    sealed: &Uint8Array,
) -> Result<(), ApiError> {
    let response = auth
        .apply(Request::put(&format!(
            "/api/documents/{id}/files/{file}/chunks/{chunk}"
        )))
        .header("Content-Type", "application/octet-stream")
        .body(chunk_body(sealed))
        .map_err(|_| ApiError::Unexpected { status: 0 })?
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if response.ok() {
        return Ok(());
    }
    Err(refusal(response).await)
}

/// `GET /api/documents/{id}/chunks`: what the relay holds of an interrupted upload.
pub async fn stored_document_chunks(
    auth: &UploadAuth,
    id: Id,
) -> Result<wire::StoredChunks, ApiError> {
    send(auth.apply(Request::get(&format!("/api/documents/{id}/chunks")))).await
}

/// A sealed chunk as an upload's body: the array itself. A `Blob` of it (tried: the page's
/// process then spends half the CPU per uploaded MiB) keeps each body in the browser's own
/// process until the page's collector drops the `Blob`, which in a page that makes little
/// garbage comes after the upload: in a fresh page Chromium's browser process grew by about
/// the file's size and the transport ran slower (the send bench's "Blob bodies" row: 104 and
/// 123 MiB/s against 141 and 188 with arrays; the app 85 against 92 and 95).
fn chunk_body(sealed: &Uint8Array) -> Uint8Array {
    sealed.clone()
}

/// `POST /api/documents/{id}/finalize`.
pub async fn finalize_document(
    auth: &UploadAuth,
    id: Id,
    request: &wire::FinalizeDocumentRequest,
) -> Result<wire::DocumentView, ApiError> {
    let request = auth
        .apply(Request::post(&format!("/api/documents/{id}/finalize")))
        .json(request)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    decode(request.send().await.map_err(|_| ApiError::Network)?).await
}

/// `GET /api/documents/{id}/files/{file}/chunks/{chunk}`: with the session, or (for an
/// authorisation of a request by link) the request's upload token.
pub async fn document_chunk(
    id: Id,
    file: u32,
    chunk: u32,
    link_token: Option<&str>,
) -> Result<Uint8Array, ApiError> {
    let mut request = Request::get(&format!("/api/documents/{id}/files/{file}/chunks/{chunk}"));
    if let Some(token) = link_token {
        request = request
            .header("X-Upload-Token", token)
            .credentials(web_sys::RequestCredentials::Omit);
    }
    bytes(request).await
}

/// `GET /api/requests/{id}/link` with the upload token derived from the link.
pub async fn link_request(id: Id, token: &str) -> Result<wire::LinkRequestView, ApiError> {
    send(
        Request::get(&format!("/api/requests/{id}/link"))
            .header("X-Upload-Token", token)
            .credentials(web_sys::RequestCredentials::Omit),
    )
    .await
}

/// `POST /api/requests/{id}/fulfil` as a provider by link.
pub async fn fulfil_by_link(
    id: Id,
    token: &str,
    request: &wire::FulfilRequest,
) -> Result<wire::DocumentCreated, ApiError> {
    let request = Request::post(&format!("/api/requests/{id}/fulfil"))
        .header("X-Upload-Token", token)
        .credentials(web_sys::RequestCredentials::Omit)
        .json(request)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    decode(request.send().await.map_err(|_| ApiError::Network)?).await
}

/// `GET /api/portal/{handle}`.
pub async fn portal(handle: &str) -> Result<wire::PortalView, ApiError> {
    send(
        Request::get(&format!("/api/portal/{handle}"))
            .credentials(web_sys::RequestCredentials::Omit),
    )
    .await
}

/// `POST /api/portal/{handle}/drops`.
pub async fn portal_drop(
    handle: &str,
    request: &wire::NewDocumentRequest,
) -> Result<wire::DocumentCreated, ApiError> {
    let request = Request::post(&format!("/api/portal/{handle}/drops"))
        .credentials(web_sys::RequestCredentials::Omit)
        .json(request)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    decode(request.send().await.map_err(|_| ApiError::Network)?).await
}

/// The API as a logged-in user: it exists only after sign-up, log-in or resuming a session,
/// and sends the session's CSRF token with every state-changing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedApi {
    session: wire::SessionResponse,
}

impl AuthorizedApi {
    fn new(session: wire::SessionResponse) -> Self {
        Self { session }
    }

    pub fn session(&self) -> &wire::SessionResponse {
        &self.session
    }

    /// `POST /api/auth/logout`.
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.post_empty("/api/auth/logout").await
    }

    /// `POST /api/auth/logout-all`.
    pub async fn logout_everywhere(&self) -> Result<(), ApiError> {
        self.post_empty("/api/auth/logout-all").await
    }

    /// `GET /api/org/audit`.
    pub async fn audit(&self) -> Result<Vec<wire::AuditEntryView>, ApiError> {
        send(Request::get("/api/org/audit?limit=500")).await
    }

    /// `GET /api/org/audit/checkpoint`: the log's head, signed with the relay's audit key.
    pub async fn audit_checkpoint(&self) -> Result<wire::AuditCheckpoint, ApiError> {
        send(Request::get("/api/org/audit/checkpoint")).await
    }

    /// `POST /api/auth/password`: the relay answers the refreshed session.
    pub async fn change_password(
        &self,
        request: &wire::ChangePasswordRequest,
    ) -> Result<AuthorizedApi, ApiError> {
        let session: wire::SessionResponse = self
            .write(Request::post("/api/auth/password"), Some(request))
            .await?;
        Ok(AuthorizedApi::new(session))
    }

    /// `POST /api/auth/mfa/setup`.
    pub async fn mfa_setup(&self) -> Result<wire::MfaSetupResponse, ApiError> {
        self.write::<(), _>(Request::post("/api/auth/mfa/setup"), None)
            .await
    }

    /// `POST /api/auth/mfa/confirm`: answers the recovery codes, once.
    pub async fn mfa_confirm(&self, code: &str) -> Result<wire::MfaConfirmResponse, ApiError> {
        let request = wire::MfaConfirmRequest { code: code.into() };
        self.write(Request::post("/api/auth/mfa/confirm"), Some(&request))
            .await
    }

    /// `GET /api/org/members`.
    pub async fn members(&self) -> Result<Vec<wire::MemberView>, ApiError> {
        send(Request::get("/api/org/members")).await
    }

    /// `GET /api/org/invites`.
    pub async fn invites(&self) -> Result<Vec<wire::InviteView>, ApiError> {
        send(Request::get("/api/org/invites")).await
    }

    /// `GET /api/org/api-keys`: the organisation's API keys, newest first.
    pub async fn api_keys(&self) -> Result<Vec<wire::ApiKeyView>, ApiError> {
        send(Request::get("/api/org/api-keys")).await
    }

    /// `POST /api/org/api-keys`: the answer carries the key's secret, shown once.
    pub async fn create_api_key(
        &self,
        request: &wire::CreateApiKeyRequest,
    ) -> Result<wire::CreateApiKeyResponse, ApiError> {
        self.write(Request::post("/api/org/api-keys"), Some(request))
            .await
    }

    /// `POST /api/org/api-keys/{id}/revoke`.
    pub async fn revoke_api_key(&self, id: shared::ids::Id) -> Result<wire::ApiKeyView, ApiError> {
        self.write::<(), _>(
            Request::post(&format!("/api/org/api-keys/{id}/revoke")),
            None,
        )
        .await
    }

    /// `GET /api/org/webhooks`: the organisation's webhook endpoints.
    pub async fn webhooks(&self) -> Result<Vec<wire::WebhookView>, ApiError> {
        send(Request::get("/api/org/webhooks")).await
    }

    /// `POST /api/org/webhooks`: the answer carries the signing secret, shown once.
    pub async fn create_webhook(
        &self,
        request: &wire::CreateWebhookRequest,
    ) -> Result<wire::CreateWebhookResponse, ApiError> {
        self.write(Request::post("/api/org/webhooks"), Some(request))
            .await
    }

    /// `DELETE /api/org/webhooks/{id}`.
    pub async fn delete_webhook(&self, id: shared::ids::Id) -> Result<(), ApiError> {
        self.send_empty(Request::delete(&format!("/api/org/webhooks/{id}")))
            .await
    }

    /// `GET /api/org/webhooks/{id}/deliveries`.
    pub async fn webhook_deliveries(
        &self,
        id: shared::ids::Id,
    ) -> Result<Vec<wire::WebhookDeliveryView>, ApiError> {
        send(Request::get(&format!("/api/org/webhooks/{id}/deliveries"))).await
    }

    /// `POST /api/org/webhooks/{id}/deliveries/{delivery}/replay`.
    pub async fn replay_webhook(
        &self,
        id: shared::ids::Id,
        delivery: shared::ids::Id,
    ) -> Result<wire::WebhookDeliveryView, ApiError> {
        self.write::<(), _>(
            Request::post(&format!(
                "/api/org/webhooks/{id}/deliveries/{delivery}/replay"
            )),
            None,
        )
        .await
    }

    /// `POST /api/org/invites`: the answer carries the token, shown once.
    pub async fn invite(
        &self,
        request: &wire::CreateInviteRequest,
    ) -> Result<wire::InviteView, ApiError> {
        self.write(Request::post("/api/org/invites"), Some(request))
            .await
    }

    /// `POST /api/org/members/{id}/role`.
    pub async fn change_role(
        &self,
        member: shared::ids::Id,
        role: wire::Role,
    ) -> Result<wire::MemberView, ApiError> {
        let path = format!("/api/org/members/{member}/role");
        self.write(
            Request::post(&path),
            Some(&wire::ChangeRoleRequest { role }),
        )
        .await
    }

    /// `DELETE /api/org/members/{id}`.
    pub async fn remove_member(&self, member: shared::ids::Id) -> Result<(), ApiError> {
        self.send_empty(Request::delete(&format!("/api/org/members/{member}")))
            .await
    }

    /// `POST /api/sends`: reserves a bundle; its id is the link id.
    pub async fn create_send(
        &self,
        request: &wire::CreateSendRequest,
    ) -> Result<wire::CreateSendResponse, ApiError> {
        self.write(Request::post("/api/sends"), Some(request)).await
    }

    /// `PUT /api/sends/{id}/files/{file}/chunks/{chunk}`: one sealed chunk from JavaScript
    /// memory.
    pub async fn put_chunk(
        &self,
        id: Id,
        file: u32,
        chunk: u32,
        sealed: &Uint8Array,
    ) -> Result<(), ApiError> {
        let response = Request::put(&format!("/api/sends/{id}/files/{file}/chunks/{chunk}"))
            .header("X-CSRF-Token", self.session.csrf_token.dangerously_expose())
            .header("Content-Type", "application/octet-stream")
            .body(chunk_body(sealed))
            .map_err(|_| ApiError::Unexpected { status: 0 })?
            .send()
            .await
            .map_err(|_| ApiError::Network)?;
        if response.ok() {
            return Ok(());
        }
        Err(refusal(response).await)
    }

    /// `GET /api/sends/{id}/chunks`: the chunks of a send under way that the relay holds.
    pub async fn stored_chunks(&self, id: Id) -> Result<wire::StoredChunks, ApiError> {
        send(Request::get(&format!("/api/sends/{id}/chunks"))).await
    }

    /// `POST /api/sends/{id}/finalize`.
    pub async fn finalize_send(
        &self,
        id: Id,
        request: &wire::FinalizeSendRequest,
    ) -> Result<wire::SendView, ApiError> {
        self.write(
            Request::post(&format!("/api/sends/{id}/finalize")),
            Some(request),
        )
        .await
    }

    /// `GET /api/sends`.
    pub async fn sends(&self) -> Result<Vec<wire::SendView>, ApiError> {
        send(Request::get("/api/sends")).await
    }

    /// `POST /api/sends/{id}/revoke`.
    pub async fn revoke_send(&self, id: Id) -> Result<wire::SendView, ApiError> {
        self.write::<(), _>(Request::post(&format!("/api/sends/{id}/revoke")), None)
            .await
    }

    /// `POST /api/requests`.
    pub async fn create_request(
        &self,
        request: &wire::CreateRequestRequest,
    ) -> Result<wire::CreateRequestResponse, ApiError> {
        self.write(Request::post("/api/requests"), Some(request))
            .await
    }

    /// `GET /api/requests`.
    pub async fn requests(&self) -> Result<Vec<wire::RequestView>, ApiError> {
        send(Request::get("/api/requests")).await
    }

    /// `GET /api/requests/{id}`.
    pub async fn request(&self, id: Id) -> Result<wire::RequestView, ApiError> {
        send(Request::get(&format!("/api/requests/{id}"))).await
    }

    /// `POST /api/requests/{id}/close`.
    pub async fn close_request(&self, id: Id) -> Result<wire::RequestView, ApiError> {
        self.write::<(), _>(Request::post(&format!("/api/requests/{id}/close")), None)
            .await
    }

    /// `POST /api/requests/{id}/fulfil`.
    pub async fn fulfil(
        &self,
        id: Id,
        request: &wire::FulfilRequest,
    ) -> Result<wire::DocumentCreated, ApiError> {
        self.write(
            Request::post(&format!("/api/requests/{id}/fulfil")),
            Some(request),
        )
        .await
    }

    /// `POST /api/transfers`.
    pub async fn transfer(
        &self,
        request: &wire::TransferRequest,
    ) -> Result<wire::DocumentCreated, ApiError> {
        self.write(Request::post("/api/transfers"), Some(request))
            .await
    }

    /// `GET /api/documents?box=…`.
    pub async fn documents(&self, sent: bool) -> Result<Vec<wire::DocumentView>, ApiError> {
        let which = if sent { "sent" } else { "inbox" };
        send(Request::get(&format!("/api/documents?box={which}"))).await
    }

    /// `GET /api/documents/{id}`.
    pub async fn document(&self, id: Id) -> Result<wire::DocumentView, ApiError> {
        send(Request::get(&format!("/api/documents/{id}"))).await
    }

    /// `GET /api/documents/{id}/key`.
    pub async fn document_key(&self, id: Id) -> Result<wire::OpenDocumentResponse, ApiError> {
        send(Request::get(&format!("/api/documents/{id}/key"))).await
    }

    /// `POST /api/documents/{id}/revoke`.
    pub async fn revoke_document(&self, id: Id) -> Result<wire::DocumentView, ApiError> {
        self.write::<(), _>(Request::post(&format!("/api/documents/{id}/revoke")), None)
            .await
    }

    /// `GET /api/org/portal`.
    pub async fn portal_settings(&self) -> Result<wire::PortalSettings, ApiError> {
        send(Request::get("/api/org/portal")).await
    }

    /// `PUT /api/org/portal`.
    pub async fn set_portal_settings(
        &self,
        settings: &wire::PortalSettings,
    ) -> Result<wire::PortalSettings, ApiError> {
        self.write(Request::put("/api/org/portal"), Some(settings))
            .await
    }

    /// `POST /api/invoices/{id}/mark-paid`.
    pub async fn mark_paid(
        &self,
        invoice: Id,
        reference: &str,
    ) -> Result<wire::InvoiceView, ApiError> {
        let request = wire::MarkPaidRequest {
            reference: reference.to_owned(),
        };
        self.write(
            Request::post(&format!("/api/invoices/{invoice}/mark-paid")),
            Some(&request),
        )
        .await
    }

    /// `GET /api/org/payouts`.
    pub async fn payouts(&self) -> Result<wire::PayoutReport, ApiError> {
        send(Request::get("/api/org/payouts")).await
    }

    /// `PUT /api/org/payouts/details`.
    pub async fn set_payout_details(
        &self,
        details: &wire::PayoutDetails,
    ) -> Result<wire::PayoutDetails, ApiError> {
        self.write(Request::put("/api/org/payouts/details"), Some(details))
            .await
    }

    /// `POST /api/org/payouts`.
    pub async fn record_payout(
        &self,
        payout: &wire::RecordPayoutRequest,
    ) -> Result<wire::LedgerEntryView, ApiError> {
        self.write(Request::post("/api/org/payouts"), Some(payout))
            .await
    }

    async fn write<B: Serialize, T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let request = request.header("X-CSRF-Token", self.session.csrf_token.dangerously_expose());
        let request = match body {
            Some(body) => request
                .json(body)
                .map_err(|_| ApiError::Unexpected { status: 0 })?,
            None => request
                .build()
                .map_err(|_| ApiError::Unexpected { status: 0 })?,
        };
        let response = request.send().await.map_err(|_| ApiError::Network)?;
        decode(response).await
    }

    async fn post_empty(&self, path: &str) -> Result<(), ApiError> {
        self.send_empty(Request::post(path)).await
    }

    /// A state-changing request without a body whose answer has none either.
    async fn send_empty(&self, request: RequestBuilder) -> Result<(), ApiError> {
        let response = request
            .header("X-CSRF-Token", self.session.csrf_token.dangerously_expose())
            .send()
            .await
            .map_err(|_| ApiError::Network)?;
        if response.ok() {
            return Ok(());
        }
        Err(refusal(response).await)
    }
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let request = Request::post(path)
        .json(body)
        .map_err(|_| ApiError::Unexpected { status: 0 })?;
    let response = request.send().await.map_err(|_| ApiError::Network)?;
    decode(response).await
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ApiError> {
    // API answers are never kept, by the browser either (see `bytes`).
    let response = request
        .cache(web_sys::RequestCache::NoStore)
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    decode(response).await
}

async fn refusal(response: Response) -> ApiError {
    let status = response.status();
    match response.json::<wire::ErrorResponse>().await {
        Ok(error) => ApiError::Refused {
            status,
            code: error.code,
            message: error.message,
        },
        Err(_) => ApiError::Unexpected { status },
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|_| ApiError::Unexpected { status });
    }
    Err(refusal(response).await)
}
