//! Moving a data directory forward at start. Schema 1 kept key material (a link's verifier,
//! wrapped key and receipt key, documents' wrapped keys, sealed manifests) inside the sled
//! records; schema 2 keeps it only in bundle folders (see `blobs`), so that destroying it
//! destroys every copy, and creates a bundle's folder when the bundle is reserved. The move writes the files of every bundle that is still readable,
//! then rewrites its record without them; it is idempotent, so a start interrupted halfway
//! simply does it again. Versions of the old records that sled's log still holds are not
//! rewritten by this; they go as sled reuses its segments.

use anyhow::Context as _;

use super::{DocumentKeys, LinkKeys, SendState, Store};
use shared::wire::DocumentStatus;

impl Store {
    pub(super) fn move_keys_into_bundle_folders(&self) -> anyhow::Result<()> {
        // Schema 2 creates a bundle's folder when it is reserved; uploads under way get theirs.
        for send in self.sends()? {
            if send.state == SendState::Uploading {
                self.create_bundle_folder_blocking(send.id)?;
            }
        }
        for document in self.documents()? {
            if document.state == DocumentStatus::Uploading {
                self.create_bundle_folder_blocking(document.id)?;
            }
        }
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
                self.put_link_keys_blocking(
                    send.id,
                    keys,
                    *guard.receipt_key.dangerously_expose(),
                )?;
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

#[cfg(test)]
mod tests {
    use crate::store::{SendRecord, SendState, Store};
    use shared::crypto::kdf::KdfParams;
    use shared::crypto::{LinkVerifier, LinkWrappedKey, SealedManifest};
    use shared::ids::Id;
    use shared::wire::LinkGuard;

    #[test]
    fn a_schema_1_send_gets_its_keys_moved_into_its_folder_and_out_of_its_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = Id::from_bytes([4; 16]);
        {
            let store = Store::open(dir.path()).expect("store");
            let record = SendRecord {
                id,
                org: Id::from_bytes([1; 16]),
                sender: Id::from_bytes([2; 16]),
                created_at: 0,
                expires_at: i64::MAX,
                files: vec![10],
                sealed_bytes: 26,
                recipient_email: None,
                max_opens: 2,
                opens: 0,
                attempts: 0,
                max_attempts: 5,
                state: SendState::Ready,
                otp: None,
                legacy_guard: None,
                legacy_manifest: None,
                tokens: Vec::new(),
                opened_at: None,
                delivered_at: None,
                ended_at: None,
                ciphertext_deleted: false,
                paywall: None,
            };
            let guard = LinkGuard {
                otp_salt: [6; 16],
                kdf: KdfParams::CLIENT_V1,
                verifier: LinkVerifier::from_bytes([7; 32]),
                wrapped_key: LinkWrappedKey::from_bytes(vec![8; 60]),
                receipt_key: [9; 32].into(),
            };
            let mut old = serde_json::to_value(&record).expect("JSON");
            old["guard"] = serde_json::to_value(&guard).expect("JSON");
            old["manifest"] =
                serde_json::to_value(SealedManifest::from_bytes(vec![5; 40])).expect("JSON");
            store
                .tree("sends")
                .expect("tree")
                .insert(id.as_bytes(), serde_json::to_vec(&old).expect("JSON"))
                .expect("insert");
            store
                .tree("meta")
                .expect("meta")
                .insert(super::super::META_SCHEMA_KEY, &1_u32.to_be_bytes())
                .expect("schema 1");
            store.commit_blocking().expect("flush");
        }
        let store = reopen(dir.path());
        let raw = store
            .tree("sends")
            .expect("tree")
            .get(id.as_bytes())
            .expect("read")
            .expect("there");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("\"guard\"") && !text.contains("\"manifest\""),
            "{text}"
        );
        let send = store.send(id).expect("read").expect("there");
        assert_eq!(send.otp.map(|otp| otp.otp_salt), Some([6; 16]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let keys = runtime
            .block_on(store.link_keys(id))
            .expect("read")
            .expect("moved into the folder");
        assert_eq!(keys.wrapped_key.as_bytes(), [8; 60]);
        assert_eq!(
            runtime.block_on(store.receipt_key(id)).expect("read"),
            Some([9; 32])
        );
        drop(store);
        // The data directory as it was is kept, as a backup that verifies and says schema 1.
        let backups = || -> Vec<std::path::PathBuf> {
            std::fs::read_dir(dir.path().join(super::super::UPGRADE_BACKUPS))
                .expect("a backups folder")
                .map(|entry| entry.expect("entry").path())
                .collect()
        };
        let kept = backups();
        assert_eq!(kept.len(), 1, "{kept:?}");
        let name = kept[0]
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("schema-1-before-2-"), "{name}");
        let report = super::super::backup::verify(&kept[0]).expect("the backup verifies");
        assert_eq!(report.manifest.schema_version, 1);
        // Idempotent: opening again changes nothing (and backs nothing up again).
        let again = reopen(dir.path());
        assert!(again.send(id).expect("read").is_some());
        assert_eq!(backups().len(), 1);
    }

    /// sled lets go of its lock when its background flusher does: retry.
    fn reopen(path: &std::path::Path) -> Store {
        for _ in 0..100 {
            if let Ok(store) = Store::open(path) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the store does not reopen");
    }
}
