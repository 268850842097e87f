//! A deterministic "random" source for golden vectors: SHA-256 in counter mode over a seed.
//! Test-only: it makes fixed bundles reproducible, and is obviously not random.

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

pub struct FixedRng {
    seed: [u8; 32],
    counter: u64,
    buffer: Vec<u8>,
}

impl FixedRng {
    pub fn new(seed: u8) -> Self {
        Self {
            seed: [seed; 32],
            counter: 0,
            buffer: Vec::new(),
        }
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        while self.buffer.len() < dest.len() {
            let block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            self.buffer.extend_from_slice(&block);
        }
        let rest = self.buffer.split_off(dest.len());
        dest.copy_from_slice(&self.buffer);
        self.buffer = rest;
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}
