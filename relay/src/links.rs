//! A Secure Send link as its recipient meets it, in domain terms (PRODUCT.md flow 1): whether
//! it can be opened or downloaded now (a [`LinkRefusal`] says why not, and `error.rs` gives
//! each its one answer), the opening itself as one decision on the send record as it is
//! (`decide_opening`, run inside the store's compare-and-swap), giving back an open whose
//! answer could not be made durable, and the check of a download token. No HTTP here: the
//! endpoints in `api/links.rs` read the request, call these, audit and answer.

use shared::ids::Id;
use shared::wire::{InvoiceStatus, OrgStatus};

use crate::store::{DownloadToken, LinkKeys, OrgRecord, SendRecord, SendState, Store};
use crate::tokens::Presented;

/// Why a link does not open (or serve its chunks) now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a link (yet): an upload still in progress, or nothing at all.
    NotFound,
    /// Destroyed after too many wrong one-time passwords, earlier.
    Destroyed,
    /// Destroyed by this very attempt, the last one allowed.
    DestroyedNow,
    Revoked,
    Expired,
    UsedUp,
    /// Its key material or ciphertext is no longer stored.
    Deleted,
    /// The sending organisation is suspended or closed.
    SenderUnavailable,
    /// Its invoice's payment is being processed.
    PaymentProcessing,
    /// Its invoice's payment was refunded: locked for good.
    Refunded,
    /// Its invoice is not paid.
    PaymentRequired,
}

/// What one opening attempt decided.
#[derive(Debug)]
pub enum Opening {
    Opened,
    Wrong {
        attempts_left: u32,
    },
    DestroyedNow,
    /// Its invoice is not paid.
    Locked,
    Refused(LinkRefusal),
}

/// Refuses unless `send` can be opened at `now` (its state, expiry and opens left).
pub fn refuse_unless_openable(send: &SendRecord, now: i64) -> Result<(), LinkRefusal> {
    match send.state {
        SendState::Uploading => return Err(LinkRefusal::NotFound),
        SendState::Destroyed => return Err(LinkRefusal::Destroyed),
        SendState::Revoked => return Err(LinkRefusal::Revoked),
        SendState::Expired => return Err(LinkRefusal::Expired),
        SendState::Ready => {}
    }
    if now >= send.expires_at {
        return Err(LinkRefusal::Expired);
    }
    if send.used_up() {
        return Err(LinkRefusal::UsedUp);
    }
    Ok(())
}

/// Refuses unless `send`'s chunks can still be downloaded (with a live token).
pub fn refuse_unless_downloadable(send: &SendRecord) -> Result<(), LinkRefusal> {
    match send.state {
        SendState::Uploading => Err(LinkRefusal::NotFound),
        SendState::Destroyed => Err(LinkRefusal::Destroyed),
        SendState::Revoked => Err(LinkRefusal::Revoked),
        SendState::Expired => Err(LinkRefusal::Expired),
        SendState::Ready if send.ciphertext_deleted => Err(LinkRefusal::Deleted),
        SendState::Ready => Ok(()),
    }
}

/// The sending organisation, unless the operator suspended it or it closed; and the state
/// refusals that hold for a link's facts as well.
pub fn openable_org(
    store: &Store,
    send: &SendRecord,
) -> Result<Result<OrgRecord, LinkRefusal>, anyhow::Error> {
    match send.state {
        SendState::Destroyed => return Ok(Err(LinkRefusal::Destroyed)),
        SendState::Revoked => return Ok(Err(LinkRefusal::Revoked)),
        SendState::Expired => return Ok(Err(LinkRefusal::Expired)),
        SendState::Uploading | SendState::Ready => {}
    }
    let Some(org) = store.org(send.org)? else {
        return Ok(Err(LinkRefusal::Deleted));
    };
    Ok(match org.status {
        OrgStatus::Pending | OrgStatus::Verified => Ok(org),
        OrgStatus::Suspended | OrgStatus::Closed => Err(LinkRefusal::SenderUnavailable),
    })
}

/// Why a paywalled link does not open yet, by its invoice's state.
pub fn payment_refusal(status: InvoiceStatus) -> LinkRefusal {
    match status {
        InvoiceStatus::Processing => LinkRefusal::PaymentProcessing,
        InvoiceStatus::Refunded => LinkRefusal::Refunded,
        InvoiceStatus::Open | InvoiceStatus::Paid => LinkRefusal::PaymentRequired,
    }
}

/// One opening attempt with `proof` at `now`, decided on the send as it is (the store runs
/// this inside its compare-and-swap): unpaid links are refused before the proof is looked at
/// (no try spent); a right proof spends an open and records `issued`; a wrong one spends a
/// try, and the last try destroys the link.
pub fn decide_opening(
    send: &mut SendRecord,
    now: i64,
    keys: Option<&LinkKeys>,
    proof: &[u8],
    issued: &DownloadToken,
) -> Opening {
    if let Err(refusal) = refuse_unless_openable(send, now) {
        return Opening::Refused(refusal);
    }
    if send.paywall.is_some_and(|paywall| !paywall.unlocked) {
        return Opening::Locked;
    }
    let Some(keys) = keys else {
        return Opening::Refused(LinkRefusal::Deleted);
    };
    if keys.verifier.matches(proof) {
        send.opens += 1;
        send.opened_at.get_or_insert(now);
        if let Some(paywall) = send.paywall.as_mut() {
            paywall.released_at.get_or_insert(now);
        }
        send.tokens.push(issued.clone());
        return Opening::Opened;
    }
    send.attempts += 1;
    if send.attempts >= send.max_attempts {
        send.end(SendState::Destroyed, now);
        return Opening::DestroyedNow;
    }
    Opening::Wrong {
        attempts_left: send.max_attempts - send.attempts,
    }
}

/// Gives back an open whose answer could not be made durable: the open and its download
/// token are undone (the first open's time too), so the link opens again once the relay can
/// store it.
pub fn refund_open(store: &Store, id: Id, issued: &DownloadToken) -> anyhow::Result<()> {
    store.update_send(id, |send| {
        let Some(index) = send
            .tokens
            .iter()
            .position(|token| token.hash == issued.hash)
        else {
            return;
        };
        send.tokens.remove(index);
        send.opens = send.opens.saturating_sub(1);
        if send.opens == 0 {
            send.opened_at = None;
            if let Some(paywall) = send.paywall.as_mut() {
                paywall.released_at = None;
            }
        }
    })?;
    Ok(())
}

/// Whether `presented` is one of `send`'s download tokens and still live at `now` (constant
/// time per token).
pub fn token_is_live(send: &SendRecord, presented: &Presented, now: i64) -> bool {
    send.tokens
        .iter()
        .any(|token| presented.matches(&token.hash) && token.expires_at > now)
}
