//! Reusable view pieces, one component per file.

pub mod bundle_notice;
pub mod change_password;
pub mod choices;
pub mod file_picker;
pub mod footer;
pub mod header;
pub mod invoice;
pub mod key_warning;
pub mod limited;
pub mod mark_paid;
pub mod mfa;
pub mod offline_notice;
pub mod paused;
pub mod qr;
pub mod relay_status;
pub mod resume_upload;
pub mod shown_once;
pub mod standing;
pub mod unlock;
