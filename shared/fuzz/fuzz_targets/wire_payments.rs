//! The request bodies of the paywall (`/api/invoices/*`, `/api/org/payouts*`, and the invoice
//! terms a send or a fulfilment carries) never panic the decoder, and whatever it accepts
//! re-encodes to itself (see `common::round_trip`).
#![no_main]

mod common;

use common::round_trip;
use libfuzzer_sys::fuzz_target;
use shared::money::Currency;
use shared::wire;

fuzz_target!(|data: &[u8]| {
    round_trip::<wire::InvoiceTerms>(data);
    round_trip::<Currency>(data);
    round_trip::<wire::MarkPaidRequest>(data);
    round_trip::<wire::PayoutDetails>(data);
    round_trip::<wire::RecordPayoutRequest>(data);
});
