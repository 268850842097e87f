//! Property tests (native): every round trip of the crypto core holds for arbitrary inputs,
//! with sizes drawn around the chunk boundaries (empty, 1 MiB exactly, one byte over), and a
//! single flipped bit anywhere in a file's ciphertext is always detected.

#![cfg(not(target_arch = "wasm32"))]
use proptest::prelude::*;
use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, Manifest, ManifestFile, NoncePrefix,
    OsRng, SealedChunk, StreamError, StreamLayout, padded_size, padme,
};

/// Sizes that matter: around 0, around one chunk, around two chunks, and a few arbitrary ones.
fn interesting_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(CHUNK_SIZE - 1),
        Just(CHUNK_SIZE),
        Just(CHUNK_SIZE + 1),
        Just(2 * CHUNK_SIZE),
        Just(2 * CHUNK_SIZE + 1),
        0..3 * CHUNK_SIZE,
    ]
}

fn encrypt(key: &BundleKey, prefix: &NoncePrefix, content: &[u8]) -> Vec<SealedChunk> {
    let file_key = key.file_key(0);
    let mut encryptor =
        ChunkEncryptor::new(&file_key, prefix, content.len() as u64).expect("encryptor");
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
    assert_eq!(offset, content.len(), "every byte went into a chunk");
    chunks
}

fn decrypt(
    key: &BundleKey,
    prefix: &NoncePrefix,
    size: u64,
    chunks: &[SealedChunk],
) -> Result<Vec<u8>, StreamError> {
    let file_key = key.file_key(0);
    let mut decryptor = ChunkDecryptor::new(&file_key, prefix, size)?;
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(decryptor.decrypt_next(chunk)?.as_bytes());
    }
    decryptor.finish()?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn files_round_trip(size in interesting_size(), seed in any::<u8>()) {
        let content: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let key = BundleKey::generate(&mut OsRng);
        let prefix = NoncePrefix::generate(&mut OsRng);
        let chunks = encrypt(&key, &prefix, &content);
        let layout = StreamLayout::for_size(size as u64).expect("layout");
        prop_assert_eq!(chunks.len() as u32, layout.chunk_count());
        let sealed_total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        prop_assert_eq!(sealed_total, layout.sealed_size());
        prop_assert_eq!(decrypt(&key, &prefix, size as u64, &chunks).expect("decrypts"), content);
    }

    #[test]
    fn padded_files_round_trip_and_show_only_their_bucket(size in interesting_size(), seed in any::<u8>()) {
        let content: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(29) ^ seed).collect();
        let key = BundleKey::generate(&mut OsRng);
        let entry = ManifestFile::new("f".to_owned(), "x/y".to_owned(), size as u64, &mut OsRng)
            .expect("entry");
        let file_key = key.file_key(0);
        let mut encryptor = ChunkEncryptor::new(&file_key, &entry.nonce_prefix, entry.stream_size())
            .expect("encryptor");
        let mut decryptor = ChunkDecryptor::new(&file_key, &entry.nonce_prefix, entry.stream_size())
            .expect("decryptor");
        let mut sealed_total = 0;
        let mut back = Vec::new();
        for index in 0..entry.chunks {
            let start = (index as usize * CHUNK_SIZE).min(size);
            let piece = &content[start..start + entry.content_len(index)];
            let sealed = encryptor.encrypt_next(&entry.pad_chunk(index, piece).expect("pads")).expect("encrypts");
            sealed_total += sealed.len() as u64;
            let plain = decryptor.decrypt_next(&sealed).expect("decrypts");
            back.extend_from_slice(entry.strip_padding(index, plain.as_bytes()).expect("zeros"));
        }
        decryptor.finish().expect("complete");
        prop_assert_eq!(back, content);
        // What the relay sees is a function of the padded size alone.
        let layout = StreamLayout::for_size(padded_size(size as u64)).expect("layout");
        prop_assert_eq!(sealed_total, layout.sealed_size());
    }

    #[test]
    fn padding_is_monotone_and_a_bucket_pads_to_itself(a in any::<u64>(), b in any::<u64>()) {
        let (small, large) = (a.min(b), a.max(b));
        prop_assert!(padded_size(small) <= padded_size(large));
        prop_assert!(padded_size(small) >= small);
        let bucket = padded_size(small);
        prop_assert_eq!(padme(bucket), bucket);
    }

    #[test]
    fn any_flipped_bit_is_detected(
        size in 0..2 * CHUNK_SIZE + 10,
        position in any::<prop::sample::Index>(),
        bit in 0..8_u8,
    ) {
        let content = vec![0xa5_u8; size];
        let key = BundleKey::generate(&mut OsRng);
        let prefix = NoncePrefix::generate(&mut OsRng);
        let mut chunks = encrypt(&key, &prefix, &content);
        let total: usize = chunks.iter().map(SealedChunk::len).sum();
        let mut target = position.index(total);
        let mut index = 0;
        while target >= chunks[index].len() {
            target -= chunks[index].len();
            index += 1;
        }
        let mut bytes = chunks[index].as_bytes().to_vec();
        bytes[target] ^= 1 << bit;
        chunks[index] = SealedChunk::from_bytes(bytes);
        prop_assert_eq!(
            decrypt(&key, &prefix, size as u64, &chunks),
            Err(StreamError::Tampered { index: index as u32 })
        );
    }

    #[test]
    fn manifests_round_trip(
        names in prop::collection::vec("[^\u{0}]{1,40}", 1..8),
        sizes in prop::collection::vec(0..u64::from(u32::MAX), 8),
        note in prop::option::of(".{0,200}"),
    ) {
        let files: Vec<ManifestFile> = names
            .iter()
            .zip(&sizes)
            .map(|(name, size)| {
                ManifestFile::new(name.clone(), "application/octet-stream".to_owned(), *size, &mut OsRng)
                    .expect("entry")
            })
            .collect();
        let manifest = Manifest::new(files, note);
        let key = BundleKey::generate(&mut OsRng);
        let sealed = manifest.seal(&key, &mut OsRng).expect("seals");
        // The sealed length is a Padmé bucket of at least 1 KiB (plus nonce and tag).
        let json = sealed.len() as u64 - 28;
        prop_assert!(json >= 1024);
        prop_assert_eq!(padme(json), json);
        prop_assert_eq!(Manifest::open(&key, &sealed).expect("opens"), manifest);
    }

    #[test]
    fn link_fragments_round_trip(bytes in any::<[u8; 32]>()) {
        let secret = shared::crypto::LinkSecret::dangerously_from_bytes(bytes);
        let fragment = secret.to_fragment();
        let back = shared::crypto::LinkSecret::from_fragment(&fragment).expect("parses");
        prop_assert_eq!(back.dangerously_expose_bytes(), &bytes);
    }

    #[test]
    fn ids_round_trip(bytes in any::<[u8; 16]>()) {
        let id = shared::ids::Id::from_bytes(bytes);
        prop_assert_eq!(shared::ids::Id::parse(&id.to_string()).expect("parses"), id);
    }
}

#[test]
fn rsa_wrapping_round_trips_with_fresh_keys() {
    // Key generation is slow, so a few fixed cases instead of a property.
    let private = shared::crypto::UserPrivateKey::generate(&mut OsRng).expect("generates");
    let public = private.public_key().expect("public");
    for _ in 0..3 {
        let key = BundleKey::generate(&mut OsRng);
        let wrapped = public.wrap(&key, &mut OsRng).expect("wraps");
        assert_eq!(
            private
                .unwrap(&wrapped)
                .expect("unwraps")
                .dangerously_expose_bytes(),
            key.dangerously_expose_bytes()
        );
    }
    let der = private.dangerously_to_pkcs8_der().expect("der");
    let again = shared::crypto::UserPrivateKey::from_pkcs8_der(&der).expect("reimports");
    assert_eq!(
        again.public_key().expect("public").fingerprint(),
        public.fingerprint()
    );
}
