//! Native benchmarks of the crypto core (`cargo bench -p shared`): STREAM encrypt and decrypt
//! throughput over 256 MiB in 1 MiB chunks, argon2id at the protocol's parameters, RSA-3072 key
//! generation, wrap and unwrap. A plain timing harness: it reports, it asserts nothing.

use std::time::{Duration, Instant};

use shared::crypto::{
    BundleKey, CHUNK_SIZE, ChunkDecryptor, ChunkEncryptor, KdfParams, NoncePrefix, OsRng,
    Passphrase, UserPrivateKey, derive_master_key,
};

const STREAM_MIB: usize = 256;

fn main() {
    stream();
    argon2id();
    rsa();
}

fn mib_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

fn stream() {
    let key = BundleKey::generate(&mut OsRng).file_key(0);
    let prefix = NoncePrefix::generate(&mut OsRng);
    let size = STREAM_MIB * CHUNK_SIZE;
    let chunk = vec![0x5a_u8; CHUNK_SIZE];
    let mut encryptor = ChunkEncryptor::new(&key, &prefix, size as u64).expect("encryptor");
    let mut sealed = Vec::with_capacity(STREAM_MIB);
    let started = Instant::now();
    while !encryptor.is_finished() {
        sealed.push(encryptor.encrypt_next(&chunk).expect("encrypts"));
    }
    let encrypt = started.elapsed();
    let mut decryptor = ChunkDecryptor::new(&key, &prefix, size as u64).expect("decryptor");
    let started = Instant::now();
    for piece in &sealed {
        std::hint::black_box(decryptor.decrypt_next(piece).expect("decrypts"));
    }
    decryptor.finish().expect("complete");
    let decrypt = started.elapsed();
    println!(
        "stream  {STREAM_MIB} MiB: encrypt {:.0} MiB/s, decrypt {:.0} MiB/s",
        mib_per_s(size, encrypt),
        mib_per_s(size, decrypt)
    );
}

fn argon2id() {
    let password = Passphrase::new("correct horse battery staple".to_owned());
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(
                derive_master_key(&password, &[1; 16], &KdfParams::CLIENT_V1).expect("derives"),
            );
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "argon2id m=64 MiB t=3 p=1: median {:.0} ms (min {:.0}, max {:.0})",
        times[3].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[6].as_secs_f64() * 1e3
    );
}

fn rsa() {
    let mut keygen: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..9 {
        let started = Instant::now();
        let key = UserPrivateKey::generate(&mut OsRng).expect("generates");
        keygen.push(started.elapsed());
        last = Some(key);
    }
    keygen.sort();
    let private = last.expect("nine keys were generated");
    let public = private.public_key().expect("public");
    let bundle = BundleKey::generate(&mut OsRng);
    let rounds = 50;
    let started = Instant::now();
    let mut wrapped = Vec::new();
    for _ in 0..rounds {
        wrapped.push(public.wrap(&bundle, &mut OsRng).expect("wraps"));
    }
    let wrap = started.elapsed() / rounds;
    let started = Instant::now();
    for item in &wrapped {
        std::hint::black_box(private.unwrap(item).expect("unwraps"));
    }
    let unwrap = started.elapsed() / rounds;
    println!(
        "rsa-3072 keygen: median {:.0} ms, max {:.0} ms (9 runs); wrap {:.2} ms; unwrap {:.2} ms",
        keygen[4].as_secs_f64() * 1e3,
        keygen[8].as_secs_f64() * 1e3,
        wrap.as_secs_f64() * 1e3,
        unwrap.as_secs_f64() * 1e3
    );
}
