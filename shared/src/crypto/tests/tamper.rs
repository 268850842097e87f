//! Every tampering fails with a typed error, never with wrong plaintext: a flipped bit in any
//! chunk or in the manifest, a dropped last chunk, reordered chunks, a chunk from another file
//! or another bundle, a wrong key, a wrong OTP, a wrong link secret, a wrapped key altered or
//! opened with the wrong private key.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::rng::FixedRng;
use crate::crypto::manifest::ManifestError;
use crate::crypto::public_key::{KeyError, UnwrapError};
use crate::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, KdfParams, LinkSecret, Manifest,
    ManifestFile, NoncePrefix, Passphrase, SealedChunk, SealedManifest, StreamError,
    UserPrivateKey, UserPublicKey, derive_link_keys,
};
use crate::ids::Id;

const ALICE: &[u8] = include_bytes!("fixtures/test-alice-3072.pk8");
const BOB: &[u8] = include_bytes!("fixtures/test-bob-3072.pk8");
const WEAK: &[u8] = include_bytes!("fixtures/test-weak-1024.pk8");

struct File {
    key: crate::crypto::FileKey,
    prefix: NoncePrefix,
    size: u64,
    chunks: Vec<SealedChunk>,
}

/// A file of `size` bytes of `seed`-derived content, encrypted as file `index` of `bundle`.
fn encrypt_file(bundle: &BundleKey, index: u32, size: usize, rng: &mut FixedRng) -> File {
    let content: Vec<u8> = (0..size).map(|i| (i % 253) as u8 ^ index as u8).collect();
    let key = bundle.file_key(index);
    let prefix = NoncePrefix::generate(rng);
    let mut encryptor = ChunkEncryptor::new(&key, &prefix, size as u64).expect("encryptor");
    let mut chunks = Vec::new();
    let mut offset = 0;
    while !encryptor.is_finished() {
        let len = encryptor.layout().plaintext_len(encryptor.next_index());
        chunks.push(
            encryptor
                .encrypt_next(&content[offset..offset + len])
                .expect("encrypts"),
        );
        offset += len;
    }
    File {
        key,
        prefix,
        size: size as u64,
        chunks,
    }
}

fn decrypt_all(file: &File, chunks: &[SealedChunk]) -> Result<Vec<u8>, StreamError> {
    let mut decryptor = ChunkDecryptor::new(&file.key, &file.prefix, file.size)?;
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(decryptor.decrypt_next(chunk)?.as_bytes());
    }
    decryptor.finish()?;
    Ok(out)
}

fn flip(chunk: &SealedChunk, byte: usize) -> SealedChunk {
    let mut bytes = chunk.as_bytes().to_vec();
    bytes[byte] ^= 0x01;
    SealedChunk::from_bytes(bytes)
}

fn three_chunk_file() -> (BundleKey, File, FixedRng) {
    let mut rng = FixedRng::new(1);
    let bundle = BundleKey::generate(&mut rng);
    let file = encrypt_file(&bundle, 0, 2 * CHUNK_SIZE + 100, &mut rng);
    (bundle, file, rng)
}

#[test]
fn the_untouched_file_decrypts() {
    let (_, file, _) = three_chunk_file();
    assert_eq!(file.chunks.len(), 3);
    let plain = decrypt_all(&file, &file.chunks).expect("decrypts");
    assert_eq!(plain.len(), 2 * CHUNK_SIZE + 100);
}

#[test]
fn a_flipped_bit_in_any_chunk_is_detected() {
    let (_, file, _) = three_chunk_file();
    for index in 0..3 {
        for byte in [
            0,
            file.chunks[index].len() / 2,
            file.chunks[index].len() - 1,
        ] {
            let mut chunks = file.chunks.clone();
            chunks[index] = flip(&chunks[index], byte);
            assert_eq!(
                decrypt_all(&file, &chunks),
                Err(StreamError::Tampered {
                    index: index as u32
                }),
                "chunk {index}, byte {byte}"
            );
        }
    }
}

#[test]
fn a_dropped_last_chunk_is_truncation() {
    let (_, file, _) = three_chunk_file();
    assert_eq!(
        decrypt_all(&file, &file.chunks[..2]),
        Err(StreamError::Truncated {
            received: 2,
            expected: 3
        })
    );
}

#[test]
fn a_resumed_decryption_takes_the_rest_in_order_and_nothing_else() {
    let (_, file, _) = three_chunk_file();
    let whole = decrypt_all(&file, &file.chunks).expect("decrypts");
    // Resumed at chunk 1: chunks 1 and 2 give the rest of the file, and then it is complete.
    let mut resumed =
        ChunkDecryptor::resume_at(&file.key, &file.prefix, file.size, 1).expect("at 1");
    let mut rest = Vec::new();
    for chunk in &file.chunks[1..] {
        rest.extend_from_slice(resumed.decrypt_next(chunk).expect("decrypts").as_bytes());
    }
    resumed.finish().expect("complete");
    assert_eq!(rest, whole[CHUNK_SIZE..]);
    // Chunk 0 offered as chunk 1, or the last chunk dropped after resuming, fails.
    let mut resumed =
        ChunkDecryptor::resume_at(&file.key, &file.prefix, file.size, 1).expect("at 1");
    assert_eq!(
        resumed.decrypt_next(&file.chunks[0]).map(|_| ()),
        Err(StreamError::Tampered { index: 1 })
    );
    resumed.decrypt_next(&file.chunks[1]).expect("decrypts");
    assert_eq!(
        resumed.finish(),
        Err(StreamError::Truncated {
            received: 2,
            expected: 3
        })
    );
    // A start past the end is refused.
    assert!(ChunkDecryptor::resume_at(&file.key, &file.prefix, file.size, 4).is_err());
}

#[test]
fn reordered_chunks_fail() {
    let (_, file, _) = three_chunk_file();
    let chunks = vec![
        file.chunks[1].clone(),
        file.chunks[0].clone(),
        file.chunks[2].clone(),
    ];
    assert_eq!(
        decrypt_all(&file, &chunks),
        Err(StreamError::Tampered { index: 0 })
    );
}

#[test]
fn a_middle_chunk_cannot_pose_as_the_last() {
    // A file of exactly two full chunks, cut after the first: the first chunk was not sealed
    // as last, so a layout claiming one chunk cannot accept it.
    let mut rng = FixedRng::new(9);
    let bundle = BundleKey::generate(&mut rng);
    let file = encrypt_file(&bundle, 0, 2 * CHUNK_SIZE, &mut rng);
    let shortened = File {
        key: bundle.file_key(0),
        prefix: file.prefix,
        size: CHUNK_SIZE as u64,
        chunks: Vec::new(),
    };
    assert_eq!(
        decrypt_all(&shortened, &file.chunks[..1]),
        Err(StreamError::Tampered { index: 0 })
    );
}

#[test]
fn a_chunk_from_another_file_or_bundle_fails() {
    let (bundle, file, mut rng) = three_chunk_file();
    let sibling = encrypt_file(&bundle, 1, 2 * CHUNK_SIZE + 100, &mut rng);
    let mut chunks = file.chunks.clone();
    chunks[1] = sibling.chunks[1].clone();
    assert_eq!(
        decrypt_all(&file, &chunks),
        Err(StreamError::Tampered { index: 1 })
    );

    let other_bundle = BundleKey::generate(&mut rng);
    let stranger = encrypt_file(&other_bundle, 0, 2 * CHUNK_SIZE + 100, &mut rng);
    let mut chunks = file.chunks.clone();
    chunks[2] = stranger.chunks[2].clone();
    assert_eq!(
        decrypt_all(&file, &chunks),
        Err(StreamError::Tampered { index: 2 })
    );
}

#[test]
fn a_wrong_key_fails_on_the_first_chunk() {
    let (_, file, mut rng) = three_chunk_file();
    let wrong = File {
        key: BundleKey::generate(&mut rng).file_key(0),
        prefix: file.prefix,
        size: file.size,
        chunks: Vec::new(),
    };
    assert_eq!(
        decrypt_all(&wrong, &file.chunks),
        Err(StreamError::Tampered { index: 0 })
    );
}

#[test]
fn wrong_lengths_and_extra_chunks_are_refused() {
    let (_, file, _) = three_chunk_file();
    let mut chunks = file.chunks.clone();
    let mut cut = chunks[0].as_bytes().to_vec();
    cut.pop();
    chunks[0] = SealedChunk::from_bytes(cut);
    assert!(matches!(
        decrypt_all(&file, &chunks),
        Err(StreamError::WrongChunkLength { index: 0, .. })
    ));
    let mut chunks = file.chunks.clone();
    chunks.push(file.chunks[2].clone());
    assert_eq!(
        decrypt_all(&file, &chunks),
        Err(StreamError::TooManyChunks { expected: 3 })
    );

    let mut encryptor = ChunkEncryptor::new(&file.key, &file.prefix, 10).expect("encryptor");
    assert!(matches!(
        encryptor.encrypt_next(&[0; 9]),
        Err(StreamError::WrongPlaintextLength {
            index: 0,
            expected: 10,
            got: 9
        })
    ));
}

fn golden_manifest(rng: &mut FixedRng) -> Manifest {
    let file = ManifestFile::new(
        "report.pdf".to_owned(),
        "application/pdf".to_owned(),
        5,
        rng,
    )
    .expect("entry");
    Manifest::new(vec![file], Some("note".to_owned()))
}

#[test]
fn a_tampered_truncated_or_foreign_manifest_fails() {
    let mut rng = FixedRng::new(2);
    let bundle = BundleKey::generate(&mut rng);
    let manifest = golden_manifest(&mut rng);
    let sealed = manifest.seal(&bundle, &mut rng).expect("seals");
    for byte in [0, 12, sealed.len() - 1] {
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[byte] ^= 0x80;
        assert_eq!(
            Manifest::open(&bundle, &SealedManifest::from_bytes(bytes)),
            Err(ManifestError::Tampered),
            "byte {byte}"
        );
    }
    let short = SealedManifest::from_bytes(sealed.as_bytes()[..20].to_vec());
    assert_eq!(
        Manifest::open(&bundle, &short),
        Err(ManifestError::Truncated(20))
    );
    let other = BundleKey::generate(&mut rng);
    assert_eq!(
        Manifest::open(&other, &sealed),
        Err(ManifestError::Tampered)
    );
}

#[test]
fn an_inconsistent_manifest_is_refused_even_when_authentic() {
    let mut rng = FixedRng::new(3);
    let bundle = BundleKey::generate(&mut rng);
    let mut manifest = golden_manifest(&mut rng);
    manifest.files[0].chunks = 7;
    assert!(matches!(
        manifest.seal(&bundle, &mut rng),
        Err(ManifestError::Invalid(_))
    ));
    let empty = Manifest::new(Vec::new(), None);
    assert!(matches!(
        empty.seal(&bundle, &mut rng),
        Err(ManifestError::Invalid(_))
    ));
}

#[test]
fn a_manifest_whose_stream_size_is_not_its_versions_is_refused() {
    let mut rng = FixedRng::new(5);
    let bundle = BundleKey::generate(&mut rng);
    let good = golden_manifest(&mut rng);
    assert_eq!(good.files[0].stream_size, Some(4096));
    let mut unpadded = good.clone();
    unpadded.files[0].stream_size = None;
    let mut wrong_bucket = good.clone();
    wrong_bucket.files[0].stream_size = Some(8192);
    let mut padded_v1 = good.clone();
    padded_v1.version = crate::crypto::MANIFEST_V1;
    for manifest in [unpadded, wrong_bucket, padded_v1] {
        assert!(matches!(
            manifest.seal(&bundle, &mut rng),
            Err(ManifestError::Invalid(_))
        ));
    }
    let mut version_1 = good;
    version_1.version = crate::crypto::MANIFEST_V1;
    version_1.files[0].stream_size = None;
    let sealed = version_1.seal(&bundle, &mut rng).expect("seals");
    assert_eq!(Manifest::open(&bundle, &sealed), Ok(version_1));
}

#[test]
fn padding_that_is_not_zeros_is_refused_after_decryption() {
    let mut rng = FixedRng::new(6);
    let bundle = BundleKey::generate(&mut rng);
    let entry = golden_manifest(&mut rng).files.remove(0);
    let key = bundle.file_key(0);
    let mut plaintext = entry.pad_chunk(0, b"hello").expect("pads").to_vec();
    assert_eq!(plaintext.len(), 4096);
    assert!(matches!(
        entry.pad_chunk(0, b"hell"),
        Err(StreamError::WrongPlaintextLength { expected: 5, .. })
    ));
    plaintext[4000] = 1;
    let mut encryptor =
        ChunkEncryptor::new(&key, &entry.nonce_prefix, entry.stream_size()).expect("encryptor");
    let sealed = encryptor.encrypt_next(&plaintext).expect("encrypts");
    let mut decryptor =
        ChunkDecryptor::new(&key, &entry.nonce_prefix, entry.stream_size()).expect("decryptor");
    let opened = decryptor.decrypt_next(&sealed).expect("authentic");
    assert_eq!(
        entry.strip_padding(0, opened.as_bytes()),
        Err(StreamError::BadPadding { index: 0 })
    );
    plaintext[4000] = 0;
    assert_eq!(entry.strip_padding(0, &plaintext), Ok(&b"hello"[..]));
}

#[test]
fn a_wrong_otp_or_link_secret_opens_nothing() {
    let mut rng = FixedRng::new(4);
    let bundle = BundleKey::generate(&mut rng);
    let secret = LinkSecret::generate(&mut rng);
    let link_id = Id::generate(&mut rng);
    let salt = [7_u8; 16];
    let derive = |secret: &LinkSecret, otp: &str| {
        derive_link_keys(
            secret,
            &Passphrase::new(otp.to_owned()),
            &salt,
            &link_id,
            &KdfParams::CLIENT_V1,
        )
        .expect("derives")
    };
    let right = derive(&secret, "tango-42");
    let wrapped = right.link_key.wrap(&bundle, &mut rng);
    let verifier = right.proof.verifier();
    assert!(verifier.matches(right.proof.dangerously_expose_bytes()));
    assert_eq!(
        right
            .link_key
            .unwrap(&wrapped)
            .expect("opens")
            .dangerously_expose_bytes(),
        bundle.dangerously_expose_bytes()
    );

    let wrong_otp = derive(&secret, "tango-43");
    assert!(!verifier.matches(wrong_otp.proof.dangerously_expose_bytes()));
    assert_eq!(
        wrong_otp.link_key.unwrap(&wrapped).map(|_| ()),
        Err(UnwrapError::WrongKeyOrTampered)
    );

    let wrong_secret = derive(&LinkSecret::generate(&mut rng), "tango-42");
    assert!(!verifier.matches(wrong_secret.proof.dangerously_expose_bytes()));
    assert_eq!(
        wrong_secret.link_key.unwrap(&wrapped).map(|_| ()),
        Err(UnwrapError::WrongKeyOrTampered)
    );
    assert!(!verifier.matches(&[]), "an empty proof never matches");
}

#[test]
fn rsa_wrapping_round_trips_and_refuses_wrong_keys_and_tampering() {
    let mut rng = FixedRng::new(5);
    let alice = UserPrivateKey::from_pkcs8_der(ALICE).expect("alice's key");
    let bob = UserPrivateKey::from_pkcs8_der(BOB).expect("bob's key");
    let alice_public = alice.public_key().expect("public half");
    assert_eq!(alice_public.bits(), 3072);
    let reimported = UserPublicKey::from_spki_der(alice_public.spki_der()).expect("spki");
    assert_eq!(reimported.fingerprint(), alice_public.fingerprint());

    let bundle = BundleKey::generate(&mut rng);
    let wrapped = alice_public.wrap(&bundle, &mut rng).expect("wraps");
    assert_eq!(wrapped.len(), 384);
    assert_eq!(
        alice
            .unwrap(&wrapped)
            .expect("unwraps")
            .dangerously_expose_bytes(),
        bundle.dangerously_expose_bytes()
    );
    assert_eq!(
        bob.unwrap(&wrapped).map(|_| ()),
        Err(UnwrapError::WrongKeyOrTampered)
    );
    let mut bytes = wrapped.as_bytes().to_vec();
    bytes[100] ^= 1;
    assert_eq!(
        alice
            .unwrap(&crate::crypto::UserWrappedKey::from_bytes(bytes))
            .map(|_| ()),
        Err(UnwrapError::WrongKeyOrTampered)
    );
    assert_eq!(
        UserPrivateKey::from_pkcs8_der(WEAK).map(|_| ()),
        Err(KeyError::UnsupportedSize(1024))
    );
    assert_eq!(
        UserPublicKey::from_spki_der(b"junk").map(|_| ()),
        Err(KeyError::InvalidPublicKey)
    );
}

#[test]
fn a_modulus_a_few_bits_short_of_2048_is_refused() {
    use rsa::pkcs8::EncodePublicKey as _;
    // 256 bytes whose first is 0x01: a 2041-bit modulus, which whole bytes would round to 2048.
    for (first, bits) in [(0x01_u8, 2041_usize), (0x7f, 2047)] {
        let mut modulus = [0xa5_u8; 256];
        modulus[0] = first;
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&modulus),
            rsa::BigUint::from(65_537_u32),
        )
        .expect("a public key");
        let der = key.to_public_key_der().expect("spki");
        assert_eq!(
            UserPublicKey::from_spki_der(der.as_bytes()).map(|_| ()),
            Err(KeyError::UnsupportedSize(bits))
        );
    }
    let mut modulus = [0xa5_u8; 256];
    modulus[0] = 0x80;
    let full = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&modulus),
        rsa::BigUint::from(65_537_u32),
    )
    .expect("a public key");
    let der = full.to_public_key_der().expect("spki");
    assert_eq!(
        UserPublicKey::from_spki_der(der.as_bytes()).map(|key| key.bits()),
        Ok(2048)
    );
}

#[test]
fn a_private_key_sealed_under_one_password_does_not_open_under_another() {
    let mut rng = FixedRng::new(6);
    let alice = UserPrivateKey::from_pkcs8_der(ALICE).expect("alice's key");
    let salt = [9_u8; 16];
    let master = crate::crypto::derive_master_key(
        &Passphrase::new("first password, long enough".to_owned()),
        &salt,
        &KdfParams::CLIENT_V1,
    )
    .expect("derives");
    let sealed = master
        .wrap_key()
        .seal_private_key(&alice, &mut rng)
        .expect("seals");
    let opened = master.wrap_key().open_private_key(&sealed).expect("opens");
    assert_eq!(
        opened.public_key().expect("public").fingerprint(),
        alice.public_key().expect("public").fingerprint()
    );
    let other = crate::crypto::derive_master_key(
        &Passphrase::new("second password, long enough".to_owned()),
        &salt,
        &KdfParams::CLIENT_V1,
    )
    .expect("derives");
    assert_eq!(
        other.wrap_key().open_private_key(&sealed).map(|_| ()),
        Err(crate::crypto::account::PrivateKeyOpenError::WrongPasswordOrTampered)
    );
}

#[test]
fn a_receipt_for_another_link_or_nonce_is_refused() {
    let mut rng = FixedRng::new(7);
    let receipt_key = BundleKey::generate(&mut rng).receipt_key();
    let link = Id::generate(&mut rng);
    let tag = receipt_key.receipt(&link, &[1; 16]);
    assert!(receipt_key.verify_receipt(&link, &[1; 16], &tag));
    assert!(!receipt_key.verify_receipt(&link, &[2; 16], &tag));
    assert!(!receipt_key.verify_receipt(&Id::generate(&mut rng), &[1; 16], &tag));
    assert!(!receipt_key.verify_receipt(&link, &[1; 16], &tag[..31]));
}
