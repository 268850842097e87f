//! OpenAPI schemas for the types whose JSON is written by hand (`impl Serialize`): ids, secrets,
//! ciphertext, verifiers and currencies are strings on the wire, mostly unpadded base64url
//! (PROTOCOL.md "encoding on the wire"). Built only with the `openapi` feature, which the relay
//! turns on for `/api/openapi.json`; the browser bundle never carries it.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// A string schema with a description and, where one holds, a pattern.
fn string(description: &str, pattern: Option<&str>, encoding: Option<&str>) -> RefOr<Schema> {
    let mut builder = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(description))
        .pattern(pattern);
    if let Some(encoding) = encoding {
        builder = builder.content_encoding(encoding);
    }
    RefOr::T(Schema::Object(builder.build()))
}

const BASE64URL: &str = "^[A-Za-z0-9_-]*$";

/// Bytes as unpadded base64url: what `encoding::bytes` and `encoding::array` fields carry.
#[derive(Debug)]
pub struct Base64Url;

/// A raw body of bytes (`application/octet-stream`): one sealed chunk.
#[derive(Debug)]
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .content_media_type("application/octet-stream")
                .description(Some(
                    "One sealed STREAM chunk: at most 1 MiB of ciphertext and its 16-byte tag.",
                ))
                .build(),
        ))
    }
}

impl ToSchema for Binary {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Binary")
    }
}

macro_rules! string_schema {
    ($($name:ty as $label:literal => $description:expr, $pattern:expr, $encoding:expr;)*) => {
        $(
            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    string($description, $pattern, $encoding)
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed($label)
                }
            }
        )*
    };
}

string_schema! {
    Base64Url as "Base64Url" => "Bytes as unpadded base64url.", Some(BASE64URL), Some("base64url");
    crate::ids::Id as "Id" => "16 random bytes as unpadded base64url (22 characters).", Some("^[A-Za-z0-9_-]{22}$"), None;
    crate::secret::SecretString as "SecretString" => "A secret: a token, a code or a key's secret. Never logged.", None, None;
    crate::crypto::SealedManifest as "SealedManifest" => "A bundle's manifest sealed under its manifest key (AES-256-GCM), base64url.", Some(BASE64URL), Some("base64url");
    crate::crypto::LinkWrappedKey as "LinkWrappedKey" => "The bundle key sealed under a link key (AES-256-GCM), base64url.", Some(BASE64URL), Some("base64url");
    crate::crypto::UserWrappedKey as "UserWrappedKey" => "The bundle key wrapped to a user's public key (RSA-OAEP-SHA-256), base64url.", Some(BASE64URL), Some("base64url");
    crate::crypto::SealedPrivateKey as "SealedPrivateKey" => "A user's PKCS#8 private key sealed under their wrap key (AES-256-GCM), base64url.", Some(BASE64URL), Some("base64url");
    crate::crypto::LinkVerifier as "LinkVerifier" => "SHA-256 of a link's or request link's proof, base64url.", Some(BASE64URL), Some("base64url");
    crate::money::Currency as "Currency" => "An ISO 4217 currency code.", Some("^[A-Z]{3}$"), None;
}

impl<const N: usize> PartialSchema for crate::secret::SecretBytes<N> {
    fn schema() -> RefOr<Schema> {
        string(
            "Secret bytes as unpadded base64url. Never logged.",
            Some(BASE64URL),
            Some("base64url"),
        )
    }
}

impl<const N: usize> ToSchema for crate::secret::SecretBytes<N> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("SecretBytes{N}"))
    }
}
