//! The Stripe webhook's event decoder (`relay::stripe::Event`, decoded from the verified body
//! in `api/payments.rs`) and the objects the handler then decodes from its `data.object`
//! (`CheckoutSession`, `Charge`; a Checkout Session also as Stripe's API answers it) never
//! panic, and the two ways the relay decodes agree: a body that decodes straight from its
//! bytes decodes to the same through a `serde_json::Value` (unless what a `Value` refuses is
//! in a field the type skips: see `SKIPPED_UNCHECKED`), and an object decodes from its `Value`
//! (as the handler does) exactly when, and to what, it decodes from that value's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay::stripe::{Charge, CheckoutSession, Event, EventData};
use serde::de::DeserializeOwned;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Some((event, through)) = both_ways::<Event>(data) {
        assert!(same_event(&event, &through), "{event:?} / {through:?}");
        object(&event.data.object);
    }
    if let Some((session, through)) = both_ways::<CheckoutSession>(data) {
        assert!(
            same_session(&session, &through),
            "{session:?} / {through:?}"
        );
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        object(&value);
    }
});

/// What a `Value` refuses that serde_json lets pass in a skipped field.
const SKIPPED_UNCHECKED: [&str; 5] = [
    "recursion limit exceeded",
    "invalid unicode code point",
    "lone leading surrogate in hex escape",
    "unexpected end of hex escape",
    "number out of range",
];

/// `T` from the bytes and, when that works, from the bytes' `Value`.
fn both_ways<T: DeserializeOwned>(data: &[u8]) -> Option<(T, T)> {
    let direct = serde_json::from_slice::<T>(data).ok()?;
    let value = match serde_json::from_slice::<Value>(data) {
        Ok(value) => value,
        Err(error) => {
            // serde_json skips the fields a type does not read without checking their depth,
            // their UTF-8, their `\u` escapes' code points or their numbers' range; a `Value`
            // reads, and checks, everything.
            let message = error.to_string();
            assert!(
                SKIPPED_UNCHECKED
                    .iter()
                    .any(|unchecked| message.contains(unchecked)),
                "accepted, yet not JSON: {message}"
            );
            return None;
        }
    };
    let through = serde_json::from_value::<T>(value).expect("decodes through a Value");
    Some((direct, through))
}

/// What the handler decodes from `data.object`.
fn object(object: &Value) {
    let bytes = serde_json::to_vec(object).expect("a Value serializes");
    let from_value = serde_json::from_value::<CheckoutSession>(object.clone());
    let from_bytes = serde_json::from_slice::<CheckoutSession>(&bytes);
    match (&from_value, &from_bytes) {
        (Ok(a), Ok(b)) => assert!(same_session(a, b), "{a:?} / {b:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("a Checkout Session: {from_value:?} from the Value, {from_bytes:?} from bytes"),
    }
    let from_value = serde_json::from_value::<Charge>(object.clone());
    let from_bytes = serde_json::from_slice::<Charge>(&bytes);
    match (&from_value, &from_bytes) {
        (Ok(a), Ok(b)) => assert!(same_charge(a, b), "{a:?} / {b:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("a charge: {from_value:?} from the Value, {from_bytes:?} from bytes"),
    }
}

// Field by field, destructured, so that a new field must be compared here too.

fn same_event(a: &Event, b: &Event) -> bool {
    let Event {
        id,
        kind,
        created,
        data: EventData { object },
    } = a;
    *id == b.id && *kind == b.kind && *created == b.created && *object == b.data.object
}

fn same_session(a: &CheckoutSession, b: &CheckoutSession) -> bool {
    let CheckoutSession {
        id,
        url,
        status,
        payment_status,
        amount_total,
        currency,
        metadata,
        payment_intent,
        expires_at,
    } = a;
    *id == b.id
        && *url == b.url
        && *status == b.status
        && *payment_status == b.payment_status
        && *amount_total == b.amount_total
        && *currency == b.currency
        && *metadata == b.metadata
        && *payment_intent == b.payment_intent
        && *expires_at == b.expires_at
}

fn same_charge(a: &Charge, b: &Charge) -> bool {
    let Charge {
        id,
        payment_intent,
        amount,
        amount_refunded,
        currency,
    } = a;
    *id == b.id
        && *payment_intent == b.payment_intent
        && *amount == b.amount
        && *amount_refunded == b.amount_refunded
        && *currency == b.currency
}
