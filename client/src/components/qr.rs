//! QR codes drawn in the page as SVG `data:` images (no network, allowed by the CSP's
//! `img-src data:`), for authenticator secrets and links to pass to a phone.

use base64::Engine as _;

/// The QR code of `text` as an SVG `data:` URI (allowed by the CSP's `img-src data:`).
pub fn data_uri(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(svg)
            )
        }
        Err(_) => String::new(),
    }
}
