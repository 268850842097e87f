//! Delivery receipts: after decrypting a manifest, the recipient answers the relay's nonce with
//! `HMAC-SHA-256(receipt_key, link_id ‖ nonce)`, proving someone holding `K` opened the bundle.
//! The relay holds `receipt_key` (independent of `K`) and verifies in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::ReceiptKey;
use crate::ids::Id;

type HmacSha256 = Hmac<Sha256>;

/// Length of the relay's receipt challenge.
pub const RECEIPT_NONCE_LEN: usize = 16;

impl ReceiptKey {
    fn mac(&self, link_id: &Id, nonce: &[u8; RECEIPT_NONCE_LEN]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.dangerously_expose_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(link_id.as_bytes());
        mac.update(nonce);
        mac
    }

    /// `HMAC-SHA-256(receipt_key, link_id ‖ nonce)`.
    pub fn receipt(&self, link_id: &Id, nonce: &[u8; RECEIPT_NONCE_LEN]) -> [u8; 32] {
        self.mac(link_id, nonce).finalize().into_bytes().into()
    }

    /// Whether `tag` is the receipt for this link and nonce (constant time).
    pub fn verify_receipt(
        &self,
        link_id: &Id,
        nonce: &[u8; RECEIPT_NONCE_LEN],
        tag: &[u8],
    ) -> bool {
        self.mac(link_id, nonce).verify_slice(tag).is_ok()
    }
}
