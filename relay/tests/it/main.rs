//! The relay's tests, one binary (one link on two cores instead of four), split by concern as
//! ripgrep's `tests/tests.rs` and atuin's `tests/common/` are, with one harness (`support`):
//! - `accounts`: sign-up, log-in, sessions, CSRF, blocks, invitations, roles, MFA, the audit log;
//! - `sends`: Secure Send end to end with the real cryptography of `shared`;
//! - `http`: the HTTP surface (security headers, JSON errors, the embedded app);
//! - `process`: the real binary as an operator runs it (flags, logs, SIGTERM, admin commands);
//! - `tidy`: the layering of `relay/src` (ARCHITECTURE.md "Architecture invariant").

mod accounts;
mod api_keys;
mod backup;
mod http;
mod metrics;
mod openapi;
mod process;
mod sends;
mod support;
mod tidy;
mod tls;
mod upgrade;
mod webhooks;
