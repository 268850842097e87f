//! Moving a data directory forward at start. Schema 1 kept key material (a link's verifier,
//! wrapped key and receipt key, documents' wrapped keys, sealed manifests) inside the sled
//! records; schema 2 keeps it only in bundle folders (see `blobs`), so that destroying it
//! destroys every copy. The move writes the files of every bundle that is still readable,
//! then rewrites its record without them; it is idempotent, so a start interrupted halfway
//! simply does it again. Versions of the old records that sled's log still holds are not
//! rewritten by this; they go as sled reuses its segments.

use anyhow::Context as _;

use super::{DocumentKeys, LinkKeys, SendState, Store};
use shared::wire::DocumentStatus;

impl Store {
    pub(super) fn move_keys_into_bundle_folders(&self) -> anyhow::Result<()> {
        for send in self.sends()? {
            if send.legacy_guard.is_none() && send.legacy_manifest.is_none() {
                continue;
            }
            let readable = send.state == SendState::Ready && !send.ciphertext_deleted;
            if let (true, Some(guard), Some(manifest)) =
                (readable, &send.legacy_guard, &send.legacy_manifest)
            {
                let keys = LinkKeys {
                    verifier: guard.verifier,
                    wrapped_key: guard.wrapped_key.clone(),
                    manifest: manifest.clone(),
                };
                let keys = (!send.used_up()).then_some(&keys);
                self.put_link_keys_blocking(send.id, keys, guard.receipt_key)?;
            }
            let otp = send.legacy_guard.as_ref().map(|guard| super::LinkOtp {
                otp_salt: guard.otp_salt,
                kdf: guard.kdf,
            });
            self.update_send(send.id, |send| {
                if send.otp.is_none() {
                    send.otp = otp;
                }
                send.legacy_guard = None;
                send.legacy_manifest = None;
            })
            .with_context(|| format!("while rewriting send {}", send.id))?;
        }
        for document in self.documents()? {
            if document.legacy_readers.is_empty()
                && document.legacy_manifest.is_none()
                && document.legacy_link_wrapped_key.is_none()
            {
                continue;
            }
            if let (DocumentStatus::Ready, Some(manifest)) =
                (document.state, &document.legacy_manifest)
            {
                self.put_document_keys_blocking(
                    document.id,
                    &DocumentKeys {
                        readers: document.legacy_readers.clone(),
                        manifest: manifest.clone(),
                        link_wrapped_key: document.legacy_link_wrapped_key.clone(),
                    },
                )?;
            }
            self.update_document(document.id, |document| {
                document.legacy_readers.clear();
                document.legacy_manifest = None;
                document.legacy_link_wrapped_key = None;
            })
            .with_context(|| format!("while rewriting document {}", document.id))?;
        }
        Ok(())
    }
}
