//! Golden vectors of Sealpost's own formats, committed so that any change to a format (or a
//! browser build computing different bytes) fails a test. The same values are printed in
//! `shared/PROTOCOL.md`, appendix "Test vectors", for other implementations. The link
//! derivation is also recomputed here from the raw primitives, independently of `kdf.rs`.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::rng::FixedRng;
use super::unhex;
use crate::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, KdfParams, LinkSecret, MANIFEST_V1,
    MANIFEST_VERSION, Manifest, ManifestFile, Passphrase, derive_link_keys, derive_master_key,
    padded_size, padme,
};
use crate::ids::Id;

const GOLDEN_K: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn golden_bundle_key() -> BundleKey {
    BundleKey::dangerously_from_slice(&unhex(GOLDEN_K)).expect("32 bytes")
}

/// The golden bundle's files: empty, "hello", and 1 MiB + 1 bytes of `i mod 251`.
fn golden_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let big: Vec<u8> = (0..(1 << 20) + 1).map(|i: u32| (i % 251) as u8).collect();
    vec![
        ("empty.txt", "text/plain", Vec::new()),
        ("hello.txt", "text/plain", b"hello".to_vec()),
        ("pattern.bin", "application/octet-stream", big),
    ]
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[test]
fn golden_key_schedule() {
    let k = golden_bundle_key();
    assert_eq!(
        hex_of(k.file_key(0).dangerously_expose_bytes()),
        "755de85c8f610bf5f4019106059b285f22071e17a29e5595d8d9587a268678bc"
    );
    assert_eq!(
        hex_of(k.file_key(1).dangerously_expose_bytes()),
        "d808e99b6e3bba98a782702b99e9ecaf3779684c4df5c4b515d0629f6d796472"
    );
    assert_eq!(
        hex_of(k.manifest_key().dangerously_expose_bytes()),
        "bbf66cc21e505f162119ea67557911d17c22a622d340fa6ca44105504b0d05df"
    );
    assert_eq!(
        hex_of(k.receipt_key().dangerously_expose_bytes()),
        "8267ff56a21cde13301808bf86d33684e3bc0de111160d705afcae6e281e4b34"
    );
}

/// What the golden bundle encrypts to, in manifest `version`.
struct GoldenBundle {
    /// Up to 21 bytes of each file's first sealed chunk, hex.
    first_chunks: Vec<String>,
    /// SHA-256 of every sealed chunk in order, hex.
    all_chunks: String,
    /// SHA-256 of the sealed manifest, hex.
    sealed_manifest: String,
    /// Length of the sealed manifest.
    sealed_manifest_len: usize,
    /// Each file's chunk count.
    chunks: Vec<u32>,
}

fn golden_bundle(version: u32) -> GoldenBundle {
    let k = golden_bundle_key();
    let mut rng = FixedRng::new(0x5e);
    let mut entries = Vec::new();
    let mut all_chunks = Sha256::new();
    let mut first_chunks = Vec::new();
    for (index, (name, mime, content)) in golden_files().into_iter().enumerate() {
        let mut entry = ManifestFile::new(
            name.to_owned(),
            mime.to_owned(),
            content.len() as u64,
            &mut rng,
        )
        .expect("entry");
        if version == MANIFEST_V1 {
            entry.stream_size = None;
            entry.chunks = entry.layout().expect("layout").chunk_count();
        }
        let file_key = k.file_key(u32::try_from(index).expect("small"));
        let mut encryptor =
            ChunkEncryptor::new(&file_key, &entry.nonce_prefix, entry.stream_size())
                .expect("encryptor");
        let mut decryptor =
            ChunkDecryptor::new(&file_key, &entry.nonce_prefix, entry.stream_size())
                .expect("decryptor");
        let mut recovered = Vec::new();
        for chunk in 0..entry.chunks {
            let start = chunk as usize * CHUNK_SIZE;
            let piece = &content[start.min(content.len())..][..entry.content_len(chunk)];
            let sealed = encryptor
                .encrypt_next(&entry.pad_chunk(chunk, piece).expect("pads"))
                .expect("encrypts");
            all_chunks.update(sealed.as_bytes());
            if first_chunks.len() == index {
                first_chunks.push(hex_of(&sealed.as_bytes()[..sealed.len().min(21)]));
            }
            let plain = decryptor.decrypt_next(&sealed).expect("decrypts");
            recovered.extend_from_slice(
                entry
                    .strip_padding(chunk, plain.as_bytes())
                    .expect("zero padding"),
            );
        }
        assert!(encryptor.is_finished());
        decryptor.finish().expect("complete");
        assert_eq!(recovered, content);
        entries.push(entry);
    }
    let mut manifest = Manifest::new(entries, Some("golden note".to_owned()));
    manifest.version = version;
    let sealed_manifest = manifest.seal(&k, &mut rng).expect("seals");
    assert_eq!(
        Manifest::open(&k, &sealed_manifest).expect("opens"),
        manifest
    );
    GoldenBundle {
        first_chunks,
        all_chunks: hex_of(&all_chunks.finalize()),
        sealed_manifest: hex_of(&Sha256::digest(sealed_manifest.as_bytes())),
        sealed_manifest_len: sealed_manifest.len(),
        chunks: manifest.files.iter().map(|file| file.chunks).collect(),
    }
}

/// Version 1 (unpadded) bundles were published before padding: their bytes never change, and
/// they still open.
#[test]
fn golden_version_1_bundle_encrypts_to_the_committed_bytes_and_back() {
    let bundle = golden_bundle(MANIFEST_V1);
    assert_eq!(bundle.first_chunks[0], "495f9adcd9f99cab2adfc0633cd09a5c");
    assert_eq!(
        bundle.first_chunks[1],
        "969168203d9751a96a815107d2463e4532cf59b7b2"
    );
    assert_eq!(
        bundle.all_chunks,
        "cd38ba42c9b6b248519dab7396509c3f97e8d7e0c4612ff2685a38ff7ab30ba7"
    );
    assert_eq!(
        bundle.sealed_manifest,
        "477a67515f0d64c16e8724c3eaf889660de80cf7264a89a64c7578c8b7fded03"
    );
    assert_eq!(bundle.chunks, [1, 1, 2]);
}

/// Version 2 pads: the empty file and "hello" become one 4 KiB chunk each, 1 MiB + 1 bytes
/// becomes 1 MiB + 32 KiB (two chunks), and the manifest JSON is padded to 1 KiB.
#[test]
fn golden_version_2_bundle_encrypts_to_the_committed_bytes_and_back() {
    let bundle = golden_bundle(MANIFEST_VERSION);
    assert_eq!(
        bundle.first_chunks[0],
        "0d0ba64e5bcf44c17d1e314b2d412743ce5860d98c"
    );
    // The same key stream as version 1 for "hello"; zeros follow.
    assert_eq!(
        bundle.first_chunks[1],
        "969168203d57da47f545c0dcd521d641416fd8a3e4"
    );
    assert_eq!(
        bundle.all_chunks,
        "63cc85376400e123bb8b5fec0bec90e02aa71347e65d6f443483b5bfaf6c1ede"
    );
    assert_eq!(
        bundle.sealed_manifest,
        "1b523031d971ae463d664755c203aee8e906dd078c20932895df8dad4d5d7024"
    );
    assert_eq!(bundle.sealed_manifest_len, 12 + 1024 + 16);
    assert_eq!(bundle.chunks, [1, 1, 2]);
}

#[test]
fn padme_rounds_to_the_published_buckets() {
    assert_eq!(padded_size(0), 4096);
    assert_eq!(padded_size(4096), 4096);
    assert_eq!(padded_size(4097), 4096 + 256);
    assert_eq!(padded_size(100_000), 100_352);
    assert_eq!(padded_size((1 << 20) + 1), (1 << 20) + (32 << 10));
    assert_eq!(padded_size(1_000_000_000), 1_006_632_960);
    assert_eq!(padded_size(5 << 30), 5 << 30);
    assert_eq!(padded_size(u64::MAX - 1), u64::MAX);
    for size in [4097_u64, 65_535, 1 << 20, (1 << 32) - 1, 1 << 40] {
        let padded = padded_size(size);
        assert!(
            padded >= size && padded - size <= size / 16,
            "{size} → {padded}"
        );
        assert_eq!(padme(padded), padded, "a bucket is its own bucket");
    }
}

const LINK_SECRET: [u8; 32] = [0x11; 32];
const OTP: &str = "482 913";
const OTP_SALT: [u8; 16] = [0x22; 16];
const LINK_ID: [u8; 16] = [0x33; 16];

#[test]
fn golden_link_derivation() {
    let secret = LinkSecret::dangerously_from_bytes(LINK_SECRET);
    let keys = derive_link_keys(
        &secret,
        &Passphrase::new(OTP.to_owned()),
        &OTP_SALT,
        &Id::from_bytes(LINK_ID),
        &KdfParams::CLIENT_V1,
    )
    .expect("derives");
    let link_key = hex_of(keys.link_key.dangerously_expose_bytes());
    let proof = hex_of(keys.proof.dangerously_expose_bytes());
    assert_eq!(
        link_key,
        "d798d1e9a4907053c1ae26b282a0f538eb5fd81175e1f70d98c6a466a11058c5"
    );
    assert_eq!(
        proof,
        "5c76c63d2ec96df062ce150a61ec3e28441ed8c959c25bc60fe57f8aafedc777"
    );
    assert_eq!(
        hex_of(keys.proof.verifier().as_bytes()),
        "e2f7f9c4c30780706c59b0b34d3f5558f0ec265298f6e0a31a26266868bbe3ca"
    );

    // Independently, from the raw primitives, as a second implementation would.
    let params = Params::new(64 * 1024, 3, 1, Some(32)).expect("params");
    let mut o = [0_u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(OTP.as_bytes(), &OTP_SALT, &mut o)
        .expect("argon2id");
    let mut ikm = LINK_SECRET.to_vec();
    ikm.extend_from_slice(&o);
    let hk = Hkdf::<Sha256>::new(Some(&LINK_ID), &ikm);
    let mut expected_key = [0_u8; 32];
    let mut expected_proof = [0_u8; 32];
    hk.expand(b"sealpost/v1/link-key", &mut expected_key)
        .expect("expand");
    hk.expand(b"sealpost/v1/link-proof", &mut expected_proof)
        .expect("expand");
    assert_eq!(link_key, hex_of(&expected_key));
    assert_eq!(proof, hex_of(&expected_proof));
    assert!(keys.proof.verifier().matches(&expected_proof));
}

#[test]
fn golden_account_derivation() {
    let master = derive_master_key(
        &Passphrase::new("correct horse battery staple".to_owned()),
        &[0x44; 16],
        &KdfParams::CLIENT_V1,
    )
    .expect("derives");
    assert_eq!(
        hex_of(master.dangerously_expose_bytes()),
        "d4394461d2b38d1fdaab4cc6161c2765bfb36a432afd4f6feb0e4de7ac900a1a"
    );
    assert_eq!(
        hex_of(master.auth_key().dangerously_expose_bytes()),
        "f2ad3bec84f02f76d71cc61dd0895fe2611dad699f855421e4c906e1aaa43db8"
    );
    assert_eq!(
        hex_of(master.wrap_key().dangerously_expose_bytes()),
        "144e718b083caaf09a27aa1840415105ca8bde9009a0b42df36180e65e1f223c"
    );
}

#[test]
fn golden_receipt() {
    let receipt_key = golden_bundle_key().receipt_key();
    let tag = receipt_key.receipt(&Id::from_bytes(LINK_ID), &[0x55; 16]);
    assert_eq!(
        hex_of(&tag),
        "f5875017753d3f915fcf2ab2e6241d97ed9534ec52e29426ffc16b7c4fd76d0d"
    );
    assert!(receipt_key.verify_receipt(&Id::from_bytes(LINK_ID), &[0x55; 16], &tag));
}
