//! The request bodies of Secure Send (`/api/sends/*`) and of its links (`/api/links/*`) never
//! panic the decoder, and whatever it accepts re-encodes to itself (see `common::round_trip`).
#![no_main]

mod common;

use common::round_trip;
use libfuzzer_sys::fuzz_target;
use shared::wire;

fuzz_target!(|data: &[u8]| {
    round_trip::<wire::CreateSendRequest>(data);
    round_trip::<wire::FinalizeSendRequest>(data);
    round_trip::<wire::LinkGuard>(data);
    round_trip::<wire::OpenLinkRequest>(data);
    round_trip::<wire::ReceiptRequest>(data);
});
