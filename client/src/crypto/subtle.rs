//! Thin typed access to `crypto.subtle` in a window or a worker: importing keys and running
//! AES-GCM and RSA-OAEP. Key bytes handed to WebCrypto are imported as non-extractable keys.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

/// A WebCrypto call failed (the browser's message, which never contains key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtleError {
    #[error("this browser offers no WebCrypto (crypto.subtle); use a current browser over HTTPS")]
    Unavailable,
    #[error("WebCrypto {operation} failed: {message}")]
    Failed {
        operation: &'static str,
        message: String,
    },
}

impl SubtleError {
    pub(crate) fn failed(operation: &'static str, error: JsValue) -> Self {
        let message = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "unknown error".to_owned());
        SubtleError::Failed { operation, message }
    }
}

/// `crypto.subtle` of the current global (window or worker).
pub(crate) fn subtle() -> Result<SubtleCrypto, SubtleError> {
    let global = js_sys::global();
    let crypto = Reflect::get(&global, &JsValue::from_str("crypto"))
        .ok()
        .and_then(|value| value.dyn_into::<web_sys::Crypto>().ok())
        .ok_or(SubtleError::Unavailable)?;
    Ok(crypto.subtle())
}

pub(crate) async fn resolve(
    operation: &'static str,
    promise: Result<js_sys::Promise, JsValue>,
) -> Result<JsValue, SubtleError> {
    let promise = promise.map_err(|error| SubtleError::failed(operation, error))?;
    JsFuture::from(promise)
        .await
        .map_err(|error| SubtleError::failed(operation, error))
}

/// An AES-256-GCM key inside WebCrypto (non-extractable).
#[derive(Debug, Clone)]
pub(crate) struct AesKey(CryptoKey);

impl AesKey {
    pub(crate) async fn import(raw: &[u8; 32]) -> Result<Self, SubtleError> {
        let usages = js_sys::Array::of2(&"encrypt".into(), &"decrypt".into());
        let key = resolve(
            "importKey",
            subtle()?.import_key_with_str(
                "raw",
                &Uint8Array::from(raw.as_slice()),
                "AES-GCM",
                false,
                &usages,
            ),
        )
        .await?;
        Ok(Self(key.unchecked_into()))
    }

    /// AES-GCM with a 96-bit nonce, a 128-bit tag and no associated data: `ciphertext ‖ tag`.
    pub(crate) async fn encrypt(
        &self,
        nonce: &[u8; 12],
        plaintext: &Uint8Array,
    ) -> Result<Uint8Array, SubtleError> {
        let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce.as_slice()));
        params.set_tag_length(128);
        let out = resolve(
            "encrypt",
            subtle()?.encrypt_with_object_and_buffer_source(&params, &self.0, plaintext),
        )
        .await?;
        Ok(Uint8Array::new(&out))
    }

    pub(crate) async fn decrypt(
        &self,
        nonce: &[u8; 12],
        ciphertext: &Uint8Array,
    ) -> Result<Uint8Array, SubtleError> {
        let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce.as_slice()));
        params.set_tag_length(128);
        let out = resolve(
            "decrypt",
            subtle()?.decrypt_with_object_and_buffer_source(&params, &self.0, ciphertext),
        )
        .await?;
        Ok(Uint8Array::new(&out))
    }
}

/// `{ name: "RSA-OAEP", hash: "SHA-256" }` as a plain object.
pub(crate) fn rsa_oaep_sha256() -> Object {
    let params = Object::new();
    let _ = Reflect::set(&params, &"name".into(), &"RSA-OAEP".into());
    let _ = Reflect::set(&params, &"hash".into(), &"SHA-256".into());
    params
}

/// SHA-256 of `data`, by the browser.
pub async fn sha256(data: &Uint8Array) -> Result<Vec<u8>, SubtleError> {
    let digest = resolve(
        "digest",
        subtle()?.digest_with_str_and_buffer_source("SHA-256", data),
    )
    .await?;
    Ok(Uint8Array::new(&digest).to_vec())
}
