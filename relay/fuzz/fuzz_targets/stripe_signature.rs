//! The webhook's `Stripe-Signature` check (`relay::stripe::verify_signature`) never panics, and
//! a signature verifies only for the exact body, secret and timestamp it was made for, within
//! the tolerance. Two modes, by the first byte:
//! (a) even: a header as a client sends it (the first line) and a body (the rest), checked as
//!     the webhook checks them (the test stand-in's secret, a fixed clock, the default
//!     tolerance). When it verifies, the header has a `t=` with the timestamp returned, within
//!     the tolerance, and a `v1=` that is the HMAC of exactly this body under this secret at
//!     that timestamp; the same header over another body or under another secret is refused.
//! (b) odd: a secret, body, timestamp, clock and tolerance chosen by the fuzzer, signed as
//!     Stripe signs: it verifies exactly when the timestamp is within the tolerance of the
//!     clock, and one changed byte of the body or of the secret, or another timestamp, never
//!     verifies.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use relay::stripe::{SignatureError, sign, verify_signature};

const SECRET: &[u8] = b"whsec_sealpost_standin";
const NOW: i64 = 1_700_000_000;
const TOLERANCE: i64 = 300;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        as_sent(rest);
    } else {
        let _ = genuine(Unstructured::new(rest));
    }
});

/// Whether `timestamp` is within `tolerance` seconds of `now`, in exact arithmetic.
fn fresh(now: i64, timestamp: i64, tolerance: i64) -> bool {
    (i128::from(now) - i128::from(timestamp)).abs() <= i128::from(tolerance)
}

fn header(timestamp: i64, signature: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(signature))
}

fn as_sent(rest: &[u8]) {
    let (header, body) = match rest.iter().position(|&byte| byte == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let Ok(timestamp) = verify_signature(Some(header), body, SECRET, NOW, TOLERANCE) else {
        return;
    };
    assert!(
        fresh(NOW, timestamp, TOLERANCE),
        "stale {timestamp} accepted"
    );
    let parts: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .collect();
    assert!(
        parts
            .iter()
            .any(|&(key, value)| key == "t" && value.parse::<i64>() == Ok(timestamp)),
        "the timestamp returned is not the header's"
    );
    let expected = sign(body, SECRET, timestamp);
    assert!(
        parts
            .iter()
            .any(|&(key, value)| key == "v1"
                && hex::decode(value).is_ok_and(|bytes| bytes == expected)),
        "verified without the body's signature"
    );
    let mut other_body = body.to_vec();
    other_body.push(b' ');
    assert_eq!(
        verify_signature(Some(header), &other_body, SECRET, NOW, TOLERANCE),
        Err(SignatureError::Mismatch),
        "another body verified"
    );
    assert_eq!(
        verify_signature(Some(header), body, b"whsec_other", NOW, TOLERANCE),
        Err(SignatureError::Mismatch),
        "another secret verified"
    );
}

fn genuine(mut u: Unstructured) -> Result<()> {
    let now: i64 = u.arbitrary()?;
    let timestamp: i64 = u.arbitrary()?;
    // The webhook passes `webhook_tolerance_seconds`, a u32.
    let tolerance = i64::from(u.arbitrary::<u32>()?);
    let change: u8 = u.arbitrary()?;
    let at: usize = u.arbitrary()?;
    let mask = u.arbitrary::<u8>()?.max(1);
    let delta = u.arbitrary::<i64>()?;
    let secret: Vec<u8> = u.arbitrary()?;
    let body = u.take_rest().to_vec();

    let signature = sign(&body, &secret, timestamp);
    let good = header(timestamp, &signature);
    let expected = if fresh(now, timestamp, tolerance) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Stale)
    };
    assert_eq!(
        verify_signature(Some(&good), &body, &secret, now, tolerance),
        expected
    );

    let refused = |result: std::result::Result<i64, SignatureError>, fresh: bool| {
        let want = if fresh {
            SignatureError::Mismatch
        } else {
            SignatureError::Stale
        };
        assert_eq!(result, Err(want));
    };
    let is_fresh = fresh(now, timestamp, tolerance);
    match change % 3 {
        0 => {
            let mut other = body.clone();
            match other.len() {
                0 => other.push(mask),
                len => other[at % len] ^= mask,
            }
            refused(
                verify_signature(Some(&good), &other, &secret, now, tolerance),
                is_fresh,
            );
        }
        1 => {
            // (HMAC pads a short key with zeros, so "k" and "k\0" are the same key: change a
            // byte, never the length.)
            let mut other = secret.clone();
            match other.len() {
                0 => other.push(mask),
                len => other[at % len] ^= mask,
            }
            refused(
                verify_signature(Some(&good), &body, &other, now, tolerance),
                is_fresh,
            );
        }
        _ => {
            let moved = timestamp.wrapping_add(delta | 1);
            refused(
                verify_signature(
                    Some(&header(moved, &signature)),
                    &body,
                    &secret,
                    now,
                    tolerance,
                ),
                fresh(now, moved, tolerance),
            );
        }
    }
    Ok(())
}
