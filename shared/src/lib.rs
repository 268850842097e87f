//! Sealpost's shared core: the wire types every client and the relay agree on, and (in `crypto`)
//! the reference implementation of PROTOCOL.md. Pure: no I/O, no async runtime, no browser API,
//! so it builds for `wasm32-unknown-unknown` and the host alike.

pub mod crypto;
pub mod dates;
pub mod encoding;
pub mod ids;
pub mod money;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod secret;
pub mod wire;

/// The protocol version this crate implements (PROTOCOL.md, "Sealpost protocol, version 1").
pub const PROTOCOL_VERSION: u32 = 1;
