//! One page per file; route paths live in `routes::Page`.

pub mod api_keys;
pub mod api_reference;
pub mod audit;
pub mod confirm;
pub mod dashboard;
pub mod document;
pub mod inbox;
pub mod join;
pub mod landing;
pub mod link;
pub mod login;
pub mod members;
pub mod not_found;
pub mod payouts;
pub mod portal;
pub mod portal_settings;
pub mod request;
pub mod request_link;
pub mod requests;
pub mod send;
pub mod sent;
pub mod signup;
pub mod transfer;
pub mod webhooks;
