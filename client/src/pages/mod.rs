//! One page per file; route paths live in `routes::Page`.

pub mod landing;
pub mod not_found;
