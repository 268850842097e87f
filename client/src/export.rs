//! Turning data the app already holds into downloads (blob: URLs) and readable times. No
//! network, no secrets: only what the page shows.

use wasm_bindgen::JsValue;

/// A `blob:` URL holding `text` with the given MIME type ("" if the browser refuses).
pub fn download_href(text: &str, mime: &str) -> String {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob))
        .unwrap_or_default()
}

/// RFC 4180 quoting, and a leading `'` before `=`, `+`, `-`, `@` so that a spreadsheet never
/// runs a cell as a formula.
pub fn csv_field(field: &str) -> String {
    let guarded = if field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// `2026-11-23 16:05:11` from Unix seconds.
pub fn utc(seconds: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(seconds as f64 * 1000.0));
    let iso = String::from(date.to_iso_string());
    iso.get(..19).map(|s| s.replace('T', " ")).unwrap_or(iso)
}
