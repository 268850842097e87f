//! Document requests in the domain's terms, apart from HTTP: what state a request is in (one
//! rule for the API's handlers and the retention sweep's reminders), who may answer a request by
//! link (its one answer, taken with a compare-and-swap at the finalize), and whether an upload
//! token is the request's. Refusals are `AnswerError`s; the HTTP edge maps them to answers.

use shared::ids::Id;
use shared::wire::{
    self, DocumentKind, DocumentStatus, MAX_REQUEST_DESCRIPTION_CHARS, OrgStatus, RequestStatus,
};

use crate::store::{DocumentRecord, OrgRecord, RequestRecord, Store, StoredTarget};

/// Who reads what answers `request`: its requester, when a user asked (an API key holds no
/// key pair, so what answers a key's request is wrapped to the owner alone), and the
/// requesting organisation's owner.
pub fn readers(
    store: &Store,
    request: &RequestRecord,
) -> Result<Vec<crate::store::UserRecord>, crate::documents::DocumentError> {
    let requester = store.user(request.requester)?.into_iter().collect();
    Ok(crate::documents::with_readers(
        requester,
        vec![crate::documents::owner_of(store, request.org)?],
    ))
}

/// Who asked, as people see it: the user's name; for a request an API key made, the key's
/// name marked as one inside the organisations involved, and nothing for anyone outside them
/// (a provider by link, a reminder mail: the name of an internal key is not theirs to see).
pub fn requester_name(
    store: &Store,
    request: &RequestRecord,
    outside: bool,
) -> anyhow::Result<String> {
    if let Some(user) = store.user(request.requester)? {
        return Ok(user.name);
    }
    if outside {
        return Ok(String::new());
    }
    Ok(store
        .api_key(request.requester)?
        .map(|key| format!("{} (API key)", key.name))
        .unwrap_or_default())
}

/// The request's status at `now`: closed, fulfilled (a finished upload), overdue, or open.
pub fn status(store: &Store, now: i64, request: &RequestRecord) -> anyhow::Result<RequestStatus> {
    if request.closed_at.is_some() {
        return Ok(RequestStatus::Closed);
    }
    if has_finished_answer(store, request, None)? {
        return Ok(RequestStatus::Fulfilled);
    }
    if now > request.due_at {
        return Ok(RequestStatus::Overdue);
    }
    Ok(RequestStatus::Open)
}

/// Whether a fulfilment of `request` other than `except` finished uploading (ready, or expired
/// since).
pub fn has_finished_answer(
    store: &Store,
    request: &RequestRecord,
    except: Option<Id>,
) -> anyhow::Result<bool> {
    for id in &request.fulfilments {
        if Some(*id) == except {
            continue;
        }
        if let Some(document) = store.document(*id)?
            && matches!(
                document.state,
                DocumentStatus::Ready | DocumentStatus::Expired
            )
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where a request by link stands for one more answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Nobody answered: an upload may.
    Open,
    /// Another upload took the answer and is being finalized.
    Finishing,
    /// Another upload answered it.
    Answered,
}

/// Why an upload may not answer a request by link.
#[derive(Debug)]
pub enum AnswerError {
    /// Another upload took the answer and is being finalized.
    Finishing,
    /// Another upload answered it.
    Answered,
    /// The request is gone.
    Gone,
    /// The store failed.
    Store(anyhow::Error),
}

impl From<anyhow::Error> for AnswerError {
    fn from(error: anyhow::Error) -> Self {
        AnswerError::Store(error)
    }
}

/// Where `request` stands for an upload of `mine` (`None`: one not reserved yet).
pub fn answer_for(
    store: &Store,
    request: &RequestRecord,
    mine: Option<Id>,
) -> anyhow::Result<Answer> {
    if let Some(holder) = request.answered_by.filter(|holder| Some(*holder) != mine) {
        match store.document(holder)?.map(|document| document.state) {
            Some(DocumentStatus::Ready | DocumentStatus::Expired) => return Ok(Answer::Answered),
            Some(DocumentStatus::Uploading) => return Ok(Answer::Finishing),
            // Its answer was withdrawn, or its upload abandoned: the answer is free again.
            Some(DocumentStatus::Revoked) | None => {}
        }
    }
    // Answers finished before requests recorded who answered them.
    if has_finished_answer(store, request, mine)? {
        return Ok(Answer::Answered);
    }
    Ok(Answer::Open)
}

/// Refuses a chunk of `document` if it answers a request by link that another upload answered
/// already, or is answering right now.
pub fn refuse_if_answered(store: &Store, document: &DocumentRecord) -> Result<(), AnswerError> {
    let Some(request) = link_request_of(store, document)? else {
        return Ok(());
    };
    match answer_for(store, &request, Some(document.id))? {
        Answer::Open => Ok(()),
        Answer::Finishing => Err(AnswerError::Finishing),
        Answer::Answered => Err(AnswerError::Answered),
    }
}

/// At the finalize of `document`, just before it becomes readable: if it answers a request by
/// link, it takes the request's one answer with a compare-and-swap on the request (so of two
/// uploads finishing at once, one answers and the other is refused), or is refused as
/// `refuse_if_answered` says. Requests to an organisation take any number of answers.
pub fn take_answer(store: &Store, document: &DocumentRecord) -> Result<(), AnswerError> {
    loop {
        let Some(request) = link_request_of(store, document)? else {
            return Ok(());
        };
        match answer_for(store, &request, Some(document.id))? {
            Answer::Open => {}
            Answer::Finishing => return Err(AnswerError::Finishing),
            Answer::Answered => return Err(AnswerError::Answered),
        }
        let seen = request.answered_by;
        let (taken, _) = store
            .update_request(request.id, |request| {
                let unchanged = request.answered_by == seen;
                if unchanged {
                    request.answered_by = Some(document.id);
                }
                unchanged
            })?
            .ok_or(AnswerError::Gone)?;
        if taken {
            return Ok(());
        }
        // Another upload took it between the look and the swap: look again.
    }
}

/// Gives back the answer `document` took, when its finalize did not make it readable after all.
pub fn release_answer(store: &Store, document: &DocumentRecord) -> anyhow::Result<()> {
    let Some(id) = document.request else {
        return Ok(());
    };
    store.update_request(id, |request| {
        if request.answered_by == Some(document.id) {
            request.answered_by = None;
        }
    })?;
    Ok(())
}

/// The request by link that `document` would answer, if it is a fulfilment of one.
fn link_request_of(
    store: &Store,
    document: &DocumentRecord,
) -> anyhow::Result<Option<RequestRecord>> {
    if document.kind != DocumentKind::Fulfilment {
        return Ok(None);
    }
    let Some(id) = document.request else {
        return Ok(None);
    };
    Ok(store
        .request(id)?
        .filter(|request| request.target_org().is_none()))
}

/// Whether `token` (base64, as the provider's link carries it) is the upload token of `request`,
/// a request by link; checked against its verifier in constant time.
pub fn link_token_matches(request: &RequestRecord, token: Option<&str>) -> bool {
    let StoredTarget::Link {
        upload_verifier, ..
    } = &request.target
    else {
        return false;
    };
    let Some(token) = token.and_then(|value| shared::encoding::decode(value).ok()) else {
        return false;
    };
    shared::crypto::LinkVerifier::from_bytes(*upload_verifier).matches(&token)
}

/// Why a request cannot be made as asked; the message says why, in the requester's words.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<crate::accounts::AccountError> for RequestError {
    fn from(error: crate::accounts::AccountError) -> Self {
        match error {
            crate::accounts::AccountError::Store(error) => RequestError::Store(error),
            other => RequestError::Invalid(other.to_string()),
        }
    }
}

/// Latest due date a request may set, in days from now.
const MAX_DUE_DAYS: i64 = 366;

/// What a request asks for, trimmed: 1 to `MAX_REQUEST_DESCRIPTION_CHARS` characters, line
/// breaks allowed, no other control characters.
pub fn checked_description(text: &str) -> Result<String, RequestError> {
    let description = text.trim().to_owned();
    if description.is_empty()
        || description.chars().count() > MAX_REQUEST_DESCRIPTION_CHARS
        || description
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(RequestError::Invalid(format!(
            "describe what you need in 1 to {MAX_REQUEST_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(description)
}

/// Refuses a due date that has passed at `now` or lies more than a year ahead.
pub fn check_due(due_at: i64, now: i64) -> Result<(), RequestError> {
    if due_at <= now || due_at > now + MAX_DUE_DAYS * 86_400 {
        return Err(RequestError::Invalid(
            "the due date must be in the future, within a year".to_owned(),
        ));
    }
    Ok(())
}

/// Whom a request from organisation `own` asks, as stored: another verified organisation on
/// this relay (by handle), or whoever holds its link (by the link's upload verifier).
pub fn resolve_target(
    store: &Store,
    target: wire::RequestTarget,
    own: Id,
) -> Result<(StoredTarget, Option<OrgRecord>), RequestError> {
    match target {
        wire::RequestTarget::Organisation { handle } => {
            let org = store
                .org_by_handle(handle.trim())?
                .filter(|org| org.status == OrgStatus::Verified)
                .ok_or_else(|| {
                    RequestError::Invalid(format!(
                        "no verified organisation on this relay has the handle {handle:?}"
                    ))
                })?;
            if org.id == own {
                return Err(RequestError::Invalid(
                    "a request goes to another organisation".to_owned(),
                ));
            }
            Ok((StoredTarget::Organisation { org: org.id }, Some(org)))
        }
        wire::RequestTarget::Link {
            upload_verifier,
            provider_email,
        } => {
            let provider_email =
                crate::accounts::optional_email(provider_email.as_deref(), "the provider's")?;
            Ok((
                StoredTarget::Link {
                    upload_verifier: *upload_verifier.as_bytes(),
                    provider_email,
                },
                None,
            ))
        }
    }
}
