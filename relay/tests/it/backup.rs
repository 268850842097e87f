//! Online backup and restore (`store::backup`): a backup taken while uploads and openings run,
//! restored into a new folder and served by a new relay, opens every finished bundle with
//! identical bytes, shows nothing unfinished, and its audit chain verifies; a damaged or cut
//! backup is refused with the entry named and leaves nothing behind; restore only writes into
//! an empty folder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::http::StatusCode;
use relay::config::BlobsConfig;

use super::sends::{DAY, MIB, bundle};
use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_uploads_and_opens_restores_every_finished_bundle() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let mut finished = Vec::new();
    for sizes in [vec![2 * MIB + 3], vec![5, MIB], vec![0]] {
        let files = bundle(&sizes);
        let link = relay.send(&sender, &files, 3, 7 * DAY).await;
        finished.push((link, files));
    }
    // Bulk, so that the backup takes long enough for the work below to run beside it.
    for _ in 0..8 {
        let files = bundle(&[3 * MIB]);
        let link = relay.send(&sender, &files, 3, 7 * DAY).await;
        finished.push((link, files));
    }
    let busy_files = bundle(&[MIB]);
    let busy = relay.send(&sender, &busy_files, 100, 7 * DAY).await;
    let unfinished_files = bundle(&[4 * MIB]);
    let unfinished = relay
        .create_ok(&sender, &unfinished_files.sizes(), 1, 7 * DAY)
        .await;

    let archive_dir = tempfile::tempdir().expect("temp dir");
    let archive = archive_dir.path().join("relay.tar");
    let done = Arc::new(AtomicBool::new(false));
    let operations = Arc::new(AtomicU64::new(0));
    let work = async {
        let mut round = 0_usize;
        while !done.load(Ordering::SeqCst) {
            let chunk = u32::try_from(round % 4).expect("small");
            let sealed = unfinished_files.sealed[0][round % 4].as_bytes().to_vec();
            let put = relay.put_chunk(&sender, unfinished, 0, chunk, sealed).await;
            assert_eq!(put.status(), StatusCode::NO_CONTENT);
            relay.open_ok(&busy).await;
            operations.fetch_add(1, Ordering::SeqCst);
            round += 1;
        }
    };
    let backup = {
        let (store, archive, done, operations) = (
            relay.store.clone(),
            archive.clone(),
            done.clone(),
            operations.clone(),
        );
        let now = relay.now();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let report = tokio::task::spawn_blocking(move || {
                let before = operations.load(Ordering::SeqCst);
                let report = store.backup_blocking(&archive, now);
                let during = operations.load(Ordering::SeqCst) - before;
                (report, during)
            })
            .await
            .expect("joins");
            done.store(true, Ordering::SeqCst);
            report
        }
    };
    let ((), (report, during)) = tokio::join!(work, backup);
    let report = report.expect("the backup is written");
    assert!(
        during > 0,
        "uploads and openings went on while the backup ran ({report:?})"
    );
    assert!(report.bundles > finished.len(), "{report:?}");

    let checked = relay::store::verify_backup(&archive).expect("the backup verifies");
    assert_eq!(checked.files, report.files);
    assert!(checked.audit_entries > 0);

    let data = tempfile::tempdir().expect("an empty folder");
    let restored = relay::store::restore_backup(&archive, data.path(), &BlobsConfig::default())
        .expect("the backup restores");
    assert_eq!(restored.files, report.files);

    let second = relay_on(data);
    for (link, files) in &finished {
        let opened = second.open_ok(link).await;
        let (_, _, plaintexts) = second.receive(link, &opened).await;
        assert!(
            plaintexts == files.plaintexts,
            "send {} opens with identical bytes after the restore",
            link.id
        );
    }
    let hidden = second.info(unfinished).await;
    assert_eq!(
        hidden.status(),
        StatusCode::NOT_FOUND,
        "an upload unfinished at the backup is not visible"
    );
    let chain = second.store.audit_verify().expect("readable");
    assert!(
        chain.expect("the chain verifies, with the new relay's entries after the restored ones")
            > restored.audit_entries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_cut_backup_is_refused_naming_the_entry_and_restores_nothing() {
    let relay = relay();
    let (_, sender) = relay.sender("ada@example.com", "ada-law").await;
    let files = bundle(&[MIB + 9]);
    let link = relay.send(&sender, &files, 1, 7 * DAY).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("relay.tar");
    relay
        .store
        .backup_blocking(&archive, relay.now())
        .expect("the backup is written");
    let bytes = std::fs::read(&archive).expect("read");

    let name = format!("sealpost-backup/blobs/{}/0-1", link.id);
    let at = bytes
        .windows(name.len())
        .position(|window| window == name.as_bytes())
        .expect("the chunk's entry");
    let mut damaged = bytes.clone();
    damaged[at + 512 + 3] ^= 0x40;
    let damaged_path = dir.path().join("damaged.tar");
    std::fs::write(&damaged_path, &damaged).expect("write");
    let error = relay::store::verify_backup(&damaged_path).expect_err("a changed byte");
    let text = format!("{error:#}");
    assert!(
        text.contains(&format!("blobs/{}/0-1", link.id)) && text.contains("SHA-256"),
        "{text}"
    );
    let target = dir.path().join("restored");
    let error = relay::store::restore_backup(&damaged_path, &target, &BlobsConfig::default())
        .expect_err("a damaged backup does not restore");
    assert!(format!("{error:#}").contains("0-1"), "{error:#}");
    assert!(!target.exists(), "nothing half restored is left");

    let cut_path = dir.path().join("cut.tar");
    std::fs::write(&cut_path, &bytes[..bytes.len() / 2]).expect("write");
    let error = relay::store::verify_backup(&cut_path).expect_err("half a backup");
    assert!(format!("{error:#}").contains("damaged"), "{error:#}");
    let error = relay::store::restore_backup(&cut_path, &target, &BlobsConfig::default())
        .expect_err("half a backup does not restore");
    assert!(format!("{error:#}").contains("damaged"), "{error:#}");
    assert!(!target.exists());

    let occupied = tempfile::tempdir().expect("temp dir");
    std::fs::write(occupied.path().join("keep.txt"), "mine").expect("write");
    let error = relay::store::restore_backup(&archive, occupied.path(), &BlobsConfig::default())
        .expect_err("only into an empty folder");
    assert!(format!("{error:#}").contains("not empty"), "{error:#}");
    assert_eq!(
        std::fs::read_to_string(occupied.path().join("keep.txt")).expect("kept"),
        "mine"
    );
    relay::store::verify_backup(&archive).expect("the original verifies");
}

#[test]
fn a_snapshot_left_by_a_crashed_backup_is_removed_at_the_next_start() {
    let relay = relay();
    let stale = relay.dir.path().join(".backup-0123456789abcdef");
    std::fs::create_dir_all(stale.join("blobs")).expect("a folder");
    std::fs::write(stale.join("blobs").join("keys"), "what was deleted since").expect("write");
    let relay = relay.restart();
    assert!(!stale.exists(), "the stale snapshot is gone");
    assert!(relay.dir.path().join("blobs").is_dir());
}
