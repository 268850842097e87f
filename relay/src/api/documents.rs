//! Documents wrapped to public keys at the relay's edge (PRODUCT.md flows 3–6, "Limited
//! viewing"): reserving one (for the request, portal and transfer endpoints, which decide its
//! readers), uploading its chunks and finalizing it with exactly the wrapped keys its reader
//! list calls for, listing the inbox and sent box, and reading: metadata for members of the
//! organisations involved, the wrapped key and ciphertext for its readers only (anyone else
//! gets 403, and an unpaid fulfilment 402). Who sees what is `documents::access`; reserving,
//! reader lists and key holders are in `documents` too.

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::ids::Id;
use shared::wire::{self, DocumentKind, DocumentStatus, InvoiceStatus};

use super::json::{ApiJson, ApiPath};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Permission, Principal};
use crate::client_ip::ClientIp;
use crate::documents::{Reservation, access};
use crate::error::AppError;
use crate::identity::{Caller, LinkToken, Uploader};
use crate::session::Session;
use crate::state::AppState;
use crate::store::{DocumentKeys, DocumentLimits, DocumentRecord};

/// Reserves a document (see `documents::reserve`) under this relay's limits and clock.
pub async fn reserve(
    state: &AppState,
    reservation: Reservation,
) -> Result<(DocumentRecord, wire::DocumentCreated), AppError> {
    let anonymous = &state.config.anonymous;
    let limits = DocumentLimits {
        org_quota: state.config.sends.org_quota_bytes,
        unfinished_per_org: anonymous.unfinished_bytes_per_org,
        unfinished_per_address: anonymous.unfinished_bytes_per_address,
        intake_per_org: anonymous.stored_bytes_per_org,
    };
    Ok(crate::documents::reserve(&state.store, state.clock.now(), &limits, reservation).await?)
}

/// `PUT /api/documents/{id}/files/{file}/chunks/{chunk}`: one sealed chunk, by its uploader.
#[utoipa::path(
    put,
    path = "/api/documents/{id}/files/{file}/chunks/{chunk}",
    operation_id = "documents_put_chunk",
    tag = "documents",
    security(("upload_token" = []), ("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id"), ("file" = u32, Path, description = "the file's index in its bundle"), ("chunk" = u32, Path, description = "the chunk's index in its file")),
    request_body(content = shared::openapi::Binary, content_type = "application/octet-stream", description = "one sealed chunk, exactly as long as the chunk schedule says"),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn put_chunk(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiPath((id, file, chunk)): ApiPath<(Id, u32, u32)>,
    request: Request,
) -> Result<StatusCode, AppError> {
    let document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    authorize_upload(&state, &document, &uploader)?;
    if document.state != DocumentStatus::Uploading {
        return Err(AppError::Conflict(
            "this document is already finalized or ended; its chunks cannot change".to_owned(),
        ));
    }
    crate::requests::refuse_if_answered(&state.store, &document)?;
    let expected = super::chunks::sealed_len(&document.files, file, chunk)?;
    let body = super::chunks::read_chunk(request, expected, file, chunk).await?;
    // A bundle that ended while the chunk was arriving keeps nothing of it (its folder may
    // even be gone, failing the write): that answer comes before the write's own error.
    let stored = state.store.put_chunk(id, file, chunk, body).await;
    let live = state.store.document(id)?.is_some_and(|document| {
        matches!(
            document.state,
            DocumentStatus::Uploading | DocumentStatus::Ready
        )
    });
    super::chunks::discard_if_ended(&state, id, live).await?;
    stored?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/documents/{id}/chunks`: the chunks of a document still uploading that the relay
/// holds whole, for its uploader (the session that reserved it, or the reservation's upload
/// token) to resume an interrupted upload.
#[utoipa::path(
    get,
    path = "/api/documents/{id}/chunks",
    operation_id = "documents_stored_chunks",
    tag = "documents",
    security(("upload_token" = []), ("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::StoredChunks),
        super::openapi::Errors
    )
)]
pub async fn stored_chunks(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::StoredChunks>, AppError> {
    let document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    authorize_upload(&state, &document, &uploader)?;
    if document.state != DocumentStatus::Uploading {
        return Err(AppError::Conflict(
            "this document is already finalized or ended; there is nothing to resume".to_owned(),
        ));
    }
    crate::requests::refuse_if_answered(&state.store, &document)?;
    let files = super::chunks::stored(&state, id, &document.files).await?;
    Ok(Json(wire::StoredChunks { files }))
}

/// `POST /api/documents/{id}/finalize`: once every chunk is stored, attaches the wrapped keys
/// (exactly one per expected reader) and the sealed manifest, in one write.
#[utoipa::path(
    post,
    path = "/api/documents/{id}/finalize",
    operation_id = "documents_finalize",
    tag = "documents",
    security(("upload_token" = []), ("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::FinalizeDocumentRequest,
    responses(
        (status = 200, description = "the answer", body = wire::DocumentView),
        super::openapi::Errors
    )
)]
pub async fn finalize(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    uploader: Uploader,
    ApiPath(id): ApiPath<Id>,
    ApiJson(request): ApiJson<wire::FinalizeDocumentRequest>,
) -> Result<Json<wire::DocumentView>, AppError> {
    let document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    authorize_upload(&state, &document, &uploader)?;
    crate::documents::check_finalize(&state.store, &document, &request)?;
    let already = || {
        AppError::Conflict(
            "this document is already finalized (or being finalized), or it ended".to_owned(),
        )
    };
    let _claim = state.store.claim_finalize(id).ok_or_else(already)?;
    if state
        .store
        .document(id)?
        .is_none_or(|document| document.state != DocumentStatus::Uploading)
    {
        return Err(already());
    }
    super::chunks::all_stored(&state, document.id, &document.files).await?;
    // A request by link takes one answer: this upload takes it now, or is refused.
    crate::requests::take_answer(&state.store, &document)?;
    // The key material goes into the bundle folder (durably) before anyone can read it.
    let stored = state
        .store
        .put_document_keys(
            id,
            &DocumentKeys {
                readers: request.readers.clone(),
                manifest: request.manifest.clone(),
                link_wrapped_key: request.link_wrapped_key.clone(),
            },
        )
        .await;
    if let Err(error) = stored {
        crate::requests::release_answer(&state.store, &document)?;
        return Err(error.into());
    }
    let now = state.clock.now();
    let (finalized, document) = state
        .store
        .update_document(id, |document| {
            if document.state != DocumentStatus::Uploading || now >= document.expires_at {
                return false;
            }
            document.state = DocumentStatus::Ready;
            document.uploader_ip = None;
            true
        })?
        .ok_or(AppError::NotFound)?;
    if !finalized {
        crate::requests::release_answer(&state.store, &document)?;
        if !matches!(
            document.state,
            DocumentStatus::Uploading | DocumentStatus::Ready
        ) {
            super::chunks::destroy_files(&state, id).await?;
        }
        return Err(already());
    }
    let (actor, viewer) = match uploader {
        Uploader::Account(caller) => (caller.actor(ip), Some(caller.principal())),
        Uploader::Token(_) => (Actor::Anonymous { ip }, None),
    };
    audit_document(
        &state,
        actor,
        &document,
        AuditAction::DocumentCreate,
        Outcome::Success,
    )?;
    if let Some(mailer) = state.mailer.clone() {
        let (state, document) = (state.clone(), document.clone());
        tokio::spawn(async move { notify_readers(&state, &mailer, &document).await });
    }
    Ok(Json(view(&state, &document, viewer.as_ref())?))
}

/// Which box of the inbox and sent box.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub r#box: Option<String>,
}

/// `GET /api/documents?box=inbox|sent`: what the caller's organisation received (inbox) or
/// provided (sent), newest first, with a lock on what the caller may not read.
#[utoipa::path(
    get,
    path = "/api/documents",
    operation_id = "documents_list",
    tag = "documents",
    security(("session" = []), ("api_key" = [])),
    params(("box" = Option<String>, Query, description = "`inbox` (the default): what the organisation received; `sent`: what it provided")),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::DocumentView>),
        super::openapi::Errors
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<wire::DocumentView>>, AppError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest(rejection.body_text()))?;
    let sent = match query.r#box.as_deref() {
        None | Some("inbox") => false,
        Some("sent") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "box must be inbox or sent, not {other:?}"
            )));
        }
    };
    let principal = caller.principal();
    crate::authz::authorize(&principal, Permission::ReadDocuments, principal.org)?;
    let mut views = Vec::new();
    for document in state.store.documents()?.into_iter().rev() {
        if !access(&principal, &document).visible || document.state == DocumentStatus::Uploading {
            continue;
        }
        if is_outgoing(principal.org, &document) == sent {
            views.push(view(&state, &document, Some(&principal))?);
        }
    }
    Ok(Json(views))
}

/// `GET /api/documents/{id}`: the metadata, for members of the organisations involved.
#[utoipa::path(
    get,
    path = "/api/documents/{id}",
    operation_id = "documents_get",
    tag = "documents",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::DocumentView),
        super::openapi::Errors
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::DocumentView>, AppError> {
    let principal = caller.principal();
    crate::authz::authorize(&principal, Permission::ReadDocuments, principal.org)?;
    let document = live_document(&state, id).await?;
    if !access(&principal, &document).visible {
        return Err(AppError::NotFound);
    }
    Ok(Json(view(&state, &document, Some(&principal))?))
}

/// `GET /api/documents/{id}/key`: the caller's wrapped key and the sealed manifest, for
/// readers only, once any invoice is paid.
#[utoipa::path(
    get,
    path = "/api/documents/{id}/key",
    operation_id = "documents_key",
    tag = "documents",
    security(("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::OpenDocumentResponse),
        super::openapi::Errors
    )
)]
pub async fn key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::OpenDocumentResponse>, AppError> {
    let document = live_document(&state, id).await?;
    let allowed = access(&session.principal(), &document);
    if !allowed.visible {
        return Err(AppError::NotFound);
    }
    let actor = Actor::User {
        id: session.user.id,
        ip,
    };
    if !allowed.readable {
        audit_document(
            &state,
            actor,
            &document,
            AuditAction::DocumentOpen,
            Outcome::Denied,
        )?;
        return Err(not_a_reader());
    }
    refuse_unless_ready(&document)?;
    refuse_unless_paid(&state, &document)?;
    let keys = state.store.document_keys(id).await?.ok_or_else(gone)?;
    let Some(reader) = keys
        .readers
        .into_iter()
        .find(|reader| reader.user == session.user.id)
    else {
        return Err(gone());
    };
    let manifest = keys.manifest;
    let now = state.clock.now();
    // The first opening by the receiving side is decided on the record as it is now: a
    // transfer withdrawn meanwhile is not opened, and its key is not handed out.
    if session.org.id == document.org {
        let (still_ready, _) = state
            .store
            .update_document(id, |document| {
                if document.state != DocumentStatus::Ready {
                    return false;
                }
                document.opened_at.get_or_insert(now);
                if let Some(paywall) = document.paywall.as_mut() {
                    paywall.released_at.get_or_insert(now);
                }
                true
            })?
            .ok_or_else(gone)?;
        if !still_ready {
            return Err(gone());
        }
    }
    audit_document(
        &state,
        actor,
        &document,
        AuditAction::DocumentOpen,
        Outcome::Success,
    )?;
    Ok(Json(wire::OpenDocumentResponse {
        wrapped_key: reader.wrapped_key,
        manifest,
    }))
}

/// `GET /api/documents/{id}/files/{file}/chunks/{chunk}`: ciphertext, for its readers (or,
/// for an authorisation of a request by link, whoever holds the link's upload token).
#[utoipa::path(
    get,
    path = "/api/documents/{id}/files/{file}/chunks/{chunk}",
    operation_id = "documents_chunk",
    tag = "documents",
    security(("session" = []), ("request_link" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id"), ("file" = u32, Path, description = "the file's index in its bundle"), ("chunk" = u32, Path, description = "the chunk's index in its file")),
    responses(
        (status = 200, description = "one sealed chunk (readers only)", content_type = "application/octet-stream", body = shared::openapi::Binary),
        super::openapi::Errors
    )
)]
pub async fn chunk(
    State(state): State<AppState>,
    session: Option<Session>,
    link: LinkToken,
    ApiPath((id, file, chunk)): ApiPath<(Id, u32, u32)>,
) -> Result<Response, AppError> {
    let document = live_document(&state, id).await?;
    let by_link = link_holder_of_authorization(&state, &document, &link)?;
    if !by_link {
        let Some(session) = session else {
            return Err(AppError::Unauthenticated("please log in"));
        };
        let allowed = access(&session.principal(), &document);
        if !allowed.visible {
            return Err(AppError::NotFound);
        }
        if !allowed.readable {
            return Err(not_a_reader());
        }
        refuse_unless_paid(&state, &document)?;
    }
    refuse_unless_ready(&document)?;
    super::chunks::sealed_len(&document.files, file, chunk)?;
    let bytes = state.store.chunk(id, file, chunk).await?.ok_or_else(gone)?;
    Ok(super::chunks::answer(bytes))
}

/// `POST /api/documents/{id}/revoke`: a transfer's sender (or their owner or admin) withdraws
/// it before the receiving organisation opened it; keys and ciphertext are deleted.
#[utoipa::path(
    post,
    path = "/api/documents/{id}/revoke",
    operation_id = "documents_revoke",
    tag = "documents",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::DocumentView),
        super::openapi::Errors
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::DocumentView>, AppError> {
    let principal = caller.principal();
    let document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    if !access(&principal, &document).visible {
        return Err(AppError::NotFound);
    }
    let sender = document.uploaded_by.unwrap_or(Id::from_bytes([0; 16]));
    crate::authz::authorize_made(
        &principal,
        Permission::WithdrawDocument,
        crate::authz::Made {
            org: document.counterpart.unwrap_or(document.org),
            by: sender,
        },
    )?;
    if document.kind != DocumentKind::Transfer || !is_outgoing(principal.org, &document) {
        return Err(AppError::Forbidden(
            "only a transfer's sending organisation can withdraw it".to_owned(),
        ));
    }
    let now = state.clock.now();
    let (revoked, document) = state
        .store
        .update_document(id, |document| {
            let live = matches!(
                document.state,
                DocumentStatus::Uploading | DocumentStatus::Ready
            );
            if !live || document.opened_at.is_some() {
                return false;
            }
            document.end(DocumentStatus::Revoked, now);
            true
        })?
        .ok_or(AppError::NotFound)?;
    if !revoked {
        return Err(AppError::Conflict(
            "only a transfer nobody at the receiving organisation has opened can be withdrawn"
                .to_owned(),
        ));
    }
    super::chunks::destroy_files(&state, id).await?;
    audit_document(
        &state,
        caller.actor(ip),
        &document,
        AuditAction::DocumentRevoke,
        Outcome::Success,
    )?;
    Ok(Json(view(&state, &document, Some(&principal))?))
}

/// The document as `viewer` sees it (`None`: an uploader without an account).
pub fn view(
    state: &AppState,
    document: &DocumentRecord,
    viewer: Option<&Principal>,
) -> Result<wire::DocumentView, AppError> {
    let org = state.store.org(document.org)?;
    let counterpart = match document.counterpart {
        Some(id) => state.store.org(id)?,
        None => None,
    };
    let from = match (document.kind, &counterpart, &org) {
        (DocumentKind::Portal, _, _) => "the portal".to_owned(),
        (DocumentKind::Authorization, _, Some(org)) => org.name.clone(),
        (_, Some(counterpart), _) => counterpart.name.clone(),
        (DocumentKind::Fulfilment, None, _) => "a provider by link".to_owned(),
        _ => String::new(),
    };
    let uploaded_by = match document.uploaded_by {
        Some(user) => state.store.user(user)?.map(|user| user.name),
        None => None,
    };
    let mut readers = Vec::new();
    for user in &document.expected_readers {
        if let Some(user) = state.store.user(*user)? {
            readers.push(user.name);
        }
    }
    let invoice = match document.paywall {
        Some(paywall) => state
            .store
            .invoice(paywall.invoice)?
            .map(|invoice| super::payments::view(state, &invoice))
            .transpose()?,
        None => None,
    };
    Ok(wire::DocumentView {
        id: document.id,
        kind: document.kind,
        status: document.state,
        organisation: org.map(|org| org.name).unwrap_or_default(),
        from,
        uploaded_by,
        created_at: document.created_at,
        expires_at: document.expires_at,
        files: u32::try_from(document.files.len()).unwrap_or(u32::MAX),
        size: document.files.iter().sum(),
        readable: viewer.is_some_and(|principal| access(principal, document).readable),
        readers,
        request: document.request,
        invoice,
        card_payments: state.stripe.is_some(),
        opened_at: document.opened_at,
        outgoing: viewer.is_some_and(|principal| is_outgoing(principal.org, document)),
    })
}

/// Whether the viewer's organisation provided the document (rather than received it).
fn is_outgoing(viewer_org: Id, document: &DocumentRecord) -> bool {
    match document.kind {
        // The requester provides an authorisation to the organisation asked.
        DocumentKind::Authorization => viewer_org == document.org,
        DocumentKind::Fulfilment | DocumentKind::Transfer | DocumentKind::Portal => {
            Some(viewer_org) == document.counterpart && viewer_org != document.org
        }
    }
}

/// The document, after enforcing its expiry (an expired one is ended, its keys and ciphertext
/// deleted, and audited, by whichever access notices first).
pub async fn live_document(state: &AppState, id: Id) -> Result<DocumentRecord, AppError> {
    let now = state.clock.now();
    let mut document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    if crate::invoices::heal_mirror(&state.store, document.paywall)? {
        document = state.store.document(id)?.ok_or(AppError::NotFound)?;
    }
    if !crate::bundles::document_is_due(&document, now) {
        return Ok(document);
    }
    let (expired_now, document) =
        crate::bundles::expire_document(&state.store, id, now)?.ok_or(AppError::NotFound)?;
    if expired_now {
        expire(state, &document).await?;
    }
    Ok(document)
}

/// Records an expired document's expiry and deletes its bundle folder.
async fn expire(state: &AppState, document: &DocumentRecord) -> Result<(), AppError> {
    audit_document(
        state,
        Actor::Operator,
        document,
        AuditAction::DocumentExpire,
        Outcome::Success,
    )?;
    super::chunks::destroy_files(state, document.id).await
}

pub fn audit_document(
    state: &AppState,
    actor: Actor,
    document: &DocumentRecord,
    action: AuditAction,
    outcome: Outcome,
) -> Result<(), AppError> {
    state.audit(
        actor,
        Some(document.org),
        action,
        Some(document.id.to_string()),
        outcome,
    )
}

fn refuse_unless_ready(document: &DocumentRecord) -> Result<(), AppError> {
    match document.state {
        DocumentStatus::Ready => Ok(()),
        DocumentStatus::Uploading => Err(AppError::NotFound),
        DocumentStatus::Expired => Err(AppError::Gone {
            code: "expired",
            message: "this document has expired and was deleted",
        }),
        DocumentStatus::Revoked => Err(AppError::Gone {
            code: "revoked",
            message: "the sender withdrew this document",
        }),
    }
}

fn refuse_unless_paid(state: &AppState, document: &DocumentRecord) -> Result<(), AppError> {
    let Some(paywall) = document.paywall else {
        return Ok(());
    };
    if paywall.unlocked {
        return Ok(());
    }
    let status = state
        .store
        .invoice(paywall.invoice)?
        .map_or(InvoiceStatus::Open, |invoice| invoice.status);
    Err(match status {
        InvoiceStatus::Refunded => crate::links::LinkRefusal::Refunded.into(),
        InvoiceStatus::Processing => AppError::PaymentRequired {
            code: "payment_processing",
            message: "your payment is being processed; the documents open as soon as it is confirmed",
        },
        InvoiceStatus::Open | InvoiceStatus::Paid => AppError::PaymentRequired {
            code: "payment_required",
            message: "the provider asks for payment first: pay the invoice, then open the documents",
        },
    })
}

fn not_a_reader() -> AppError {
    AppError::Forbidden(
        "only the people this document was encrypted to can read it (limited viewing); you see its details only"
            .to_owned(),
    )
}

fn gone() -> AppError {
    AppError::Gone {
        code: "deleted",
        message: "this document is no longer stored",
    }
}

/// The uploader: the user who reserved it, or the bearer of its upload token; and, at every
/// chunk and at finalize, not only at the reservation, an organisation still allowed to send
/// (the uploader's) or to receive (the document's, for uploads by token). A suspension stops
/// an upload in flight.
fn authorize_upload(
    state: &AppState,
    document: &DocumentRecord,
    uploader: &Uploader,
) -> Result<(), AppError> {
    who_uploads(document, uploader)?;
    match uploader.principal() {
        Some(principal) => {
            // The authorisation a request carries is part of asking; the rest is uploading.
            let permission = match document.kind {
                DocumentKind::Authorization => Permission::Request,
                _ => Permission::UploadDocuments,
            };
            crate::authz::authorize(&principal, permission, principal.org)?;
        }
        None => {
            let org = state.store.org(document.org)?.ok_or_else(gone)?;
            match org.status {
                shared::wire::OrgStatus::Verified => {}
                _ => {
                    return Err(AppError::Forbidden(
                        "the organisation this upload is for cannot take documents at the moment"
                            .to_owned(),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn who_uploads(document: &DocumentRecord, uploader: &Uploader) -> Result<(), AppError> {
    match (document.upload_token_hash, uploader) {
        (Some(expected), Uploader::Token(token)) => {
            if crate::tokens::Presented::new(token.dangerously_expose()).matches(&expected) {
                Ok(())
            } else {
                Err(AppError::Unauthenticated("this upload token is not valid"))
            }
        }
        (Some(_), Uploader::Account(_)) => Err(AppError::Unauthenticated(
            "uploads need the token the relay gave when they started",
        )),
        (None, Uploader::Account(caller)) if document.uploaded_by == Some(caller.maker()) => Ok(()),
        (None, _) => Err(AppError::Forbidden(
            "only the person who started this upload can add to it".to_owned(),
        )),
    }
}

/// Mails the readers of a finalized document that something arrived (no content: the relay
/// has none), when mail is configured. Failures are logged, never fatal.
async fn notify_readers(state: &AppState, mailer: &crate::mail::Mailer, document: &DocumentRecord) {
    for reader in &document.expected_readers {
        let Ok(Some(user)) = state.store.user(*reader) else {
            continue;
        };
        if Some(user.id) == document.uploaded_by {
            continue;
        }
        let subject = match document.kind {
            DocumentKind::Fulfilment => "Documents arrived for your request",
            DocumentKind::Authorization => "A request for documents, with an authorisation",
            DocumentKind::Portal => "Documents arrived through your portal",
            DocumentKind::Transfer => "A chart transfer arrived",
        };
        if let Err(error) = mailer.send_notice(&user.email, subject, "/app/inbox").await {
            tracing::warn!(error = format!("{error:#}"), "could not mail a notice");
        }
    }
}

/// Whether the headers carry the upload token of the request by link that `document` (an
/// authorisation) belongs to: then its holder may download the authorisation's ciphertext.
fn link_holder_of_authorization(
    state: &AppState,
    document: &DocumentRecord,
    link: &LinkToken,
) -> Result<bool, AppError> {
    if document.kind != DocumentKind::Authorization || link.0.is_none() {
        return Ok(false);
    }
    let Some(request) = document
        .request
        .map(|id| state.store.request(id))
        .transpose()?
        .flatten()
    else {
        return Ok(false);
    };
    if !crate::requests::link_token_matches(&request, link.text()) {
        return Err(AppError::Unauthenticated(
            "this request link is incomplete or wrong; open the whole link you were sent",
        ));
    }
    Ok(true)
}
