//! Requests for documents (PRODUCT.md flow 3): a user asks another organisation on this relay
//! (by handle) or anyone holding a link, with a description, a due date and optionally an
//! authorisation document readable by the provider. Providers fulfil by uploading documents
//! wrapped to the requesting user's and the requesting owner's keys, optionally behind an
//! invoice. Both sides see the request's status (open, fulfilled, overdue, closed). A provider by
//! link proves they hold the link with the upload token derived from its secret; the relay
//! keeps only that token's hash and never sees the secret or the expected key-set digest.
//! A request by link takes one answer (whoever holds the link could otherwise keep adding
//! files): the first upload to finish takes it with a compare-and-swap on the request, and
//! every later reservation, chunk or finalize is refused with 410 `fulfilled`.

use axum::Json;
use axum::extract::State;
use shared::ids::Id;
use shared::wire::{self, DocumentKind, DocumentStatus, OrgStatus};

use super::documents;
use super::json::{ApiJson, ApiPath};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Made, Permission, Principal, authorize, authorize_made};
use crate::client_ip::ClientIp;
use crate::documents::Reservation;
use crate::error::AppError;
use crate::identity::{Caller, LinkToken, Provider};
use crate::state::AppState;
use crate::store::{InvoiceRecord, InvoiceSubject, Paywall, RequestRecord, StoredTarget};

/// `POST /api/requests`.
#[utoipa::path(
    post,
    path = "/api/requests",
    operation_id = "requests_create",
    tag = "requests",
    security(("session" = []), ("api_key" = [])),
    request_body = wire::CreateRequestRequest,
    responses(
        (status = 200, description = "the answer", body = wire::CreateRequestResponse),
        super::openapi::Errors
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(request): ApiJson<wire::CreateRequestRequest>,
) -> Result<Json<wire::CreateRequestResponse>, AppError> {
    let own = caller.org();
    authorize(&caller.principal(), Permission::Request, own.id)?;
    let description = crate::requests::checked_description(&request.description)?;
    let now = state.clock.now();
    crate::requests::check_due(request.due_at, now)?;
    let (target, target_org) =
        crate::requests::resolve_target(&state.store, request.target, own.id)?;
    let id = Id::generate(&mut shared::crypto::OsRng);
    // A user reads what answers their request, with their owner; a key holds no key pair, so
    // what answers a key's request is for the owner alone.
    let requester_side = crate::documents::with_readers(
        caller
            .session()
            .map(|session| session.user.clone())
            .into_iter()
            .collect(),
        vec![crate::documents::owner_of(&state.store, own.id)?],
    );
    let authorization = match request.authorization {
        None => None,
        Some(files) => {
            let readers = match &target_org {
                Some(org) => crate::documents::with_readers(
                    crate::documents::intake_readers(&state.store, org)?,
                    requester_side.clone(),
                ),
                None => requester_side.clone(),
            };
            let expires_in_days = target_org
                .as_ref()
                .map_or(own.policy.max_expiry_days, |org| {
                    org.policy.max_expiry_days.min(own.policy.max_expiry_days)
                });
            let (_, created) = documents::reserve(
                &state,
                Reservation {
                    kind: DocumentKind::Authorization,
                    org: own.id,
                    counterpart: target_org.as_ref().map(|org| org.id),
                    uploaded_by: Some(caller.maker()),
                    request: Some(id),
                    files,
                    readers,
                    expires_in_days,
                    max_bundle_bytes: state.config.sends.max_bundle_bytes,
                    quota_org: own.id,
                    paywall: None,
                    anonymous: None,
                },
            )
            .await?;
            Some(created)
        }
    };
    let record = RequestRecord {
        id,
        org: own.id,
        requester: caller.maker(),
        target,
        description,
        due_at: request.due_at,
        created_at: now,
        closed_at: None,
        authorization: authorization.as_ref().map(|created| created.id),
        fulfilments: Vec::new(),
        reminded_at: None,
        answered_by: None,
        overdue_at: None,
    };
    state.store.save_request(&record)?;
    state.audit(
        caller.actor(ip),
        Some(own.id),
        AuditAction::RequestCreate,
        Some(id.to_string()),
        Outcome::Success,
    )?;
    let readers = requester_side
        .iter()
        .map(|user| crate::documents::key_holder(&state.store, user))
        .collect::<Result<_, _>>()?;
    Ok(Json(wire::CreateRequestResponse {
        id,
        authorization,
        readers,
    }))
}

/// `GET /api/requests`: what the caller's organisation asked and was asked, newest first.
#[utoipa::path(
    get,
    path = "/api/requests",
    operation_id = "requests_list",
    tag = "requests",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::RequestView>),
        super::openapi::Errors
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<wire::RequestView>>, AppError> {
    let principal = caller.principal();
    authorize(&principal, Permission::ReadRequests, principal.org)?;
    let mut views = Vec::new();
    for request in state.store.requests()? {
        if side(principal.org, &request).is_some() {
            views.push(view(&state, &request, &principal).await?);
        }
    }
    Ok(Json(views))
}

/// `GET /api/requests/{id}`.
#[utoipa::path(
    get,
    path = "/api/requests/{id}",
    operation_id = "requests_get",
    tag = "requests",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::RequestView),
        super::openapi::Errors
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::RequestView>, AppError> {
    let principal = caller.principal();
    authorize(&principal, Permission::ReadRequests, principal.org)?;
    let request = state.store.request(id)?.ok_or(AppError::NotFound)?;
    if side(principal.org, &request).is_none() {
        return Err(AppError::NotFound);
    }
    Ok(Json(view(&state, &request, &principal).await?))
}

/// `POST /api/requests/{id}/close`: the requester (or their owner or admin) closes it.
#[utoipa::path(
    post,
    path = "/api/requests/{id}/close",
    operation_id = "requests_close",
    tag = "requests",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::RequestView),
        super::openapi::Errors
    )
)]
pub async fn close(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::RequestView>, AppError> {
    let principal = caller.principal();
    let request = state.store.request(id)?.ok_or(AppError::NotFound)?;
    if side(principal.org, &request).is_none() {
        return Err(AppError::NotFound);
    }
    authorize_made(
        &principal,
        Permission::WithdrawRequest,
        Made {
            org: request.org,
            by: request.requester,
        },
    )?;
    let now = state.clock.now();
    let (_, request) = state
        .store
        .update_request(id, |request| {
            request.closed_at.get_or_insert(now);
        })?
        .ok_or(AppError::NotFound)?;
    state.audit(
        caller.actor(ip),
        Some(request.org),
        AuditAction::RequestClose,
        Some(id.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(view(&state, &request, &principal).await?))
}

/// `POST /api/requests/{id}/fulfil`: reserves a document answering the request, wrapped to the
/// requester and their owner. A member of the organisation asked (logged in) may attach an
/// invoice; a provider by link shows the upload token instead of a session.
#[utoipa::path(
    post,
    path = "/api/requests/{id}/fulfil",
    operation_id = "requests_fulfil",
    tag = "requests",
    security(("request_link" = []), ("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::FulfilRequest,
    responses(
        (status = 200, description = "the answer", body = wire::DocumentCreated),
        super::openapi::Errors
    )
)]
pub async fn fulfil(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    provider: Provider,
    ApiPath(id): ApiPath<Id>,
    ApiJson(fulfilment): ApiJson<wire::FulfilRequest>,
) -> Result<Json<wire::DocumentCreated>, AppError> {
    let request = state.store.request(id)?.ok_or(AppError::NotFound)?;
    let requester_org = state.store.org(request.org)?.ok_or(AppError::NotFound)?;
    let provider = match (&request.target, provider) {
        (StoredTarget::Organisation { org }, provider) => {
            let Provider::User(session) = provider else {
                return Err(AppError::Unauthenticated("please log in"));
            };
            if session.org.id != *org {
                return Err(AppError::NotFound);
            }
            authorize(&session.principal(), Permission::UploadDocuments, *org)?;
            Some(session)
        }
        (StoredTarget::Link { .. }, provider) => {
            let Provider::Link(token) = provider else {
                return Err(AppError::Unauthenticated(
                    "this request link is incomplete or wrong; open the whole link you were sent",
                ));
            };
            if !crate::requests::link_token_matches(&request, Some(token.dangerously_expose())) {
                return Err(AppError::Unauthenticated(
                    "this request link is incomplete or wrong; open the whole link you were sent",
                ));
            }
            if fulfilment.invoice.is_some() {
                return Err(AppError::Invalid(
                    "only a provider with an account on this relay can ask for payment".to_owned(),
                ));
            }
            None
        }
    };
    if request.closed_at.is_some() {
        return Err(AppError::Gone {
            code: "closed",
            message: "the requester closed this request; it takes no more documents",
        });
    }
    if request.target_org().is_none()
        && matches!(
            crate::requests::answer_for(&state.store, &request, None)?,
            crate::requests::Answer::Answered
        )
    {
        return Err(crate::requests::AnswerError::Answered.into());
    }
    if matches!(
        requester_org.status,
        OrgStatus::Suspended | OrgStatus::Closed
    ) {
        return Err(AppError::Gone {
            code: "requester_unavailable",
            message: "the requesting organisation is suspended or closed",
        });
    }
    let now = state.clock.now();
    let description = fulfilment
        .invoice
        .as_ref()
        .map(crate::invoices::validate_terms)
        .transpose()?;
    let invoice_id = Id::generate(&mut shared::crypto::OsRng);
    let paywall = description.as_ref().map(|_| Paywall {
        invoice: invoice_id,
        unlocked: false,
        released_at: None,
    });
    let readers = crate::requests::readers(&state.store, &request)?;
    let provider_org = provider.as_ref().map(|session| session.org.id);
    let (document, created) = documents::reserve(
        &state,
        Reservation {
            kind: DocumentKind::Fulfilment,
            org: request.org,
            counterpart: provider_org,
            uploaded_by: provider.as_ref().map(|session| session.user.id),
            request: Some(request.id),
            files: fulfilment.files,
            readers,
            expires_in_days: requester_org.policy.max_expiry_days,
            max_bundle_bytes: state.config.sends.max_bundle_bytes,
            quota_org: provider_org.unwrap_or(request.org),
            paywall,
            anonymous: provider
                .is_none()
                .then(|| ip.as_deref().map(crate::client_ip::network_of)),
        },
    )
    .await?;
    if let (Some(terms), Some(description), Some(session)) =
        (&fulfilment.invoice, description, &provider)
    {
        state.store.create_invoice(&InvoiceRecord::open(
            invoice_id,
            session.org.id,
            session.user.id,
            InvoiceSubject::Document { id: document.id },
            terms,
            description,
            now,
        ))?;
    }
    state.store.update_request(id, |request| {
        if !request.fulfilments.contains(&document.id) {
            request.fulfilments.push(document.id);
        }
    })?;
    let actor = match &provider {
        Some(session) => Actor::User {
            id: session.user.id,
            ip,
        },
        None => Actor::Anonymous { ip },
    };
    state.audit(
        actor,
        Some(request.org),
        AuditAction::RequestFulfil,
        Some(id.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(created))
}

/// `GET /api/requests/{id}/link` with `X-Upload-Token`: what a provider by link needs: the
/// request, the keys to encrypt to, and the authorisation document's link-wrapped key.
#[utoipa::path(
    get,
    path = "/api/requests/{id}/link",
    operation_id = "requests_link_view",
    tag = "requests",
    security(("request_link" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::LinkRequestView),
        super::openapi::Errors
    )
)]
pub async fn link_view(
    State(state): State<AppState>,
    link: LinkToken,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::LinkRequestView>, AppError> {
    let request = state.store.request(id)?.ok_or(AppError::NotFound)?;
    if !crate::requests::link_token_matches(&request, link.text()) {
        return Err(AppError::Unauthenticated(
            "this request link is incomplete or wrong; open the whole link you were sent",
        ));
    }
    let org = state.store.org(request.org)?.ok_or(AppError::NotFound)?;
    let requester = crate::requests::requester_name(&state.store, &request, true)?;
    let readers = crate::requests::readers(&state.store, &request)?
        .iter()
        .map(|user| crate::documents::key_holder(&state.store, user))
        .collect::<Result<_, _>>()?;
    let authorization = match request.authorization {
        Some(document) => {
            let document = documents::live_document(&state, document).await?;
            let keys = match document.state {
                DocumentStatus::Ready => state.store.document_keys(document.id).await?,
                _ => None,
            };
            keys.and_then(|keys| {
                Some(wire::LinkAuthorization {
                    document: document.id,
                    link_wrapped_key: keys.link_wrapped_key?,
                    manifest: keys.manifest,
                })
            })
        }
        None => None,
    };
    Ok(Json(wire::LinkRequestView {
        id: request.id,
        status: crate::requests::status(&state.store, state.clock.now(), &request)?,
        description: request.description.clone(),
        due_at: request.due_at,
        organisation: org.name,
        organisation_handle: org.handle,
        organisation_verified: org.status == OrgStatus::Verified,
        requester,
        readers,
        authorization,
        max_bundle_bytes: state.config.sends.max_bundle_bytes,
    }))
}

/// Which side of a request the caller's organisation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Requester,
    Provider,
}

fn side(viewer_org: Id, request: &RequestRecord) -> Option<Side> {
    if viewer_org == request.org {
        Some(Side::Requester)
    } else if request.target_org() == Some(viewer_org) {
        Some(Side::Provider)
    } else {
        None
    }
}

async fn view(
    state: &AppState,
    request: &RequestRecord,
    viewer: &Principal,
) -> Result<wire::RequestView, AppError> {
    let org = state.store.org(request.org)?.ok_or(AppError::NotFound)?;
    let requester = crate::requests::requester_name(&state.store, request, false)?;
    let target = match request.target_org() {
        Some(id) => state.store.org(id)?,
        None => None,
    };
    let authorization = match request.authorization {
        Some(id) => {
            let document = documents::live_document(state, id).await?;
            (document.state != DocumentStatus::Uploading)
                .then(|| documents::view(state, &document, Some(viewer)))
                .transpose()?
        }
        None => None,
    };
    let mut fulfilments = Vec::new();
    for id in &request.fulfilments {
        let document = documents::live_document(state, *id).await?;
        if document.state != DocumentStatus::Uploading {
            fulfilments.push(documents::view(state, &document, Some(viewer))?);
        }
    }
    Ok(wire::RequestView {
        id: request.id,
        status: crate::requests::status(&state.store, state.clock.now(), request)?,
        description: request.description.clone(),
        due_at: request.due_at,
        created_at: request.created_at,
        organisation: org.name,
        organisation_handle: org.handle,
        organisation_verified: org.status == OrgStatus::Verified,
        requester,
        target: target.as_ref().map(|org| org.name.clone()),
        target_handle: target.map(|org| org.handle),
        outgoing: side(viewer.org, request) == Some(Side::Requester),
        authorization,
        fulfilments,
    })
}
