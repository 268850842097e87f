//! The field-level wire decoders (ids, base64url fields, key material, link fragments) and the
//! response bodies a client decodes from a relay it does not trust never panic, and whatever
//! they accept re-encodes to itself (see `common::round_trip`). Request bodies, which the relay
//! decodes, have one target per endpoint group: `wire_accounts`, `wire_sends`,
//! `wire_documents`, `wire_payments`.
#![no_main]

mod common;

use common::round_trip;
use libfuzzer_sys::fuzz_target;
use shared::crypto::kdf::KdfParams;
use shared::crypto::{
    Fingerprint, LinkSecret, LinkVerifier, NoncePrefix, SealedChunk, UserWrappedKey,
};
use shared::ids::Id;
use shared::wire;

fuzz_target!(|data: &[u8]| {
    round_trip::<KdfParams>(data);
    round_trip::<Id>(data);
    round_trip::<NoncePrefix>(data);
    round_trip::<Fingerprint>(data);
    round_trip::<SealedChunk>(data);
    round_trip::<UserWrappedKey>(data);
    round_trip::<LinkVerifier>(data);
    // What the relay answers (a client decodes these).
    round_trip::<wire::HealthResponse>(data);
    round_trip::<wire::ErrorResponse>(data);
    round_trip::<wire::PreloginResponse>(data);
    round_trip::<wire::SignupPending>(data);
    round_trip::<wire::SignupConfirmed>(data);
    round_trip::<wire::SessionState>(data);
    round_trip::<wire::LoginResponse>(data);
    round_trip::<wire::InviteView>(data);
    round_trip::<wire::InviteLookupResponse>(data);
    round_trip::<wire::MemberView>(data);
    round_trip::<wire::MfaSetupResponse>(data);
    round_trip::<wire::MfaConfirmResponse>(data);
    round_trip::<wire::AuditCheckpoint>(data);
    round_trip::<wire::AuditEntryView>(data);
    round_trip::<wire::CreateSendResponse>(data);
    round_trip::<wire::SendView>(data);
    round_trip::<wire::LinkInfo>(data);
    round_trip::<wire::OpenLinkResponse>(data);
    round_trip::<wire::DocumentCreated>(data);
    round_trip::<wire::DocumentView>(data);
    round_trip::<wire::OpenDocumentResponse>(data);
    round_trip::<wire::CreateRequestResponse>(data);
    round_trip::<wire::RequestView>(data);
    round_trip::<wire::LinkRequestView>(data);
    round_trip::<wire::PortalView>(data);
    round_trip::<wire::CheckoutResponse>(data);
    round_trip::<wire::PayoutReport>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = Id::parse(text) {
            assert_eq!(id.to_string(), text);
        }
        if let Ok(secret) = LinkSecret::from_fragment(text) {
            let again = LinkSecret::from_fragment(&secret.to_fragment()).expect("re-parses");
            assert_eq!(
                again.dangerously_expose_bytes(),
                secret.dangerously_expose_bytes()
            );
        }
    }
});
