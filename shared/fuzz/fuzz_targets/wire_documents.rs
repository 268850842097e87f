//! The request bodies of documents, requests, the portal and transfers (`/api/documents/*`,
//! `/api/requests/*`, `/api/portal/*`, `/api/org/portal`, `/api/transfers`) never panic the
//! decoder, and whatever it accepts re-encodes to itself (see `common::round_trip`).
#![no_main]

mod common;

use common::round_trip;
use libfuzzer_sys::fuzz_target;
use shared::wire;

fuzz_target!(|data: &[u8]| {
    round_trip::<wire::FinalizeDocumentRequest>(data);
    round_trip::<wire::CreateRequestRequest>(data);
    round_trip::<wire::RequestTarget>(data);
    round_trip::<wire::FulfilRequest>(data);
    round_trip::<wire::PortalSettings>(data);
    round_trip::<wire::NewDocumentRequest>(data);
    round_trip::<wire::TransferRequest>(data);
});
