//! JSON wire types between the browser, the relay and any other client, named by what they
//! carry. Key bytes appear only where the protocol sends them to the relay (the receipt key and
//! the auth key); nothing here carries a plaintext, a file name, a password, an OTP, a link
//! secret or a private key. New fields get `#[serde(default)]` so older peers keep working.

use serde::{Deserialize, Serialize};

pub use crate::secret::{SecretBytes, SecretString};

mod api_keys;
mod documents;
mod payments;
mod sends;
mod webhooks;
pub use api_keys::*;
pub use documents::*;
pub use payments::*;
pub use sends::*;
pub use webhooks::*;

use crate::crypto::kdf::{KdfParams, OtpSalt};
use crate::crypto::{
    AuthKey, LinkKeys, LinkVerifier, LinkWrappedKey, ReceiptKey, SealedPrivateKey,
};

/// `GET /api/health`: liveness plus what a client needs to know it speaks to a compatible relay.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Always `"ok"` when the relay answers at all.
    pub status: String,
    /// The relay's crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The protocol version the relay implements.
    pub protocol: u32,
    /// SHA-256 of the client bundle the relay serves (hex), so users can compare it with a
    /// published build (PROTOCOL.md threat model). Empty when the relay embeds no client.
    #[serde(default)]
    pub client_sha256: String,
}

/// The body of every error the API answers: a stable machine `code` and a human `message`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// A stable, lowercase, snake_case identifier such as `not_found` or `payload_too_large`.
    pub code: String,
    /// A sentence a user can read; never contains secrets or internal details.
    pub message: String,
}

/// What a sender's browser gives the relay to guard a Secure Send link (PROTOCOL.md "Links"
/// and "Delivery receipts"): never the link secret, the OTP, `o` or the proof.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkGuard {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub otp_salt: OtpSalt,
    pub kdf: KdfParams,
    /// `SHA-256(proof)`.
    pub verifier: LinkVerifier,
    /// `AES-256-GCM(link_key, K)`.
    pub wrapped_key: LinkWrappedKey,
    /// `HKDF(K, "sealpost/v1/receipt")`, so the relay can check delivery receipts.
    pub receipt_key: SecretBytes<32>,
}

impl LinkGuard {
    /// Assembles the guard from freshly derived link keys; the proof itself stays behind.
    pub fn new(
        otp_salt: OtpSalt,
        kdf: KdfParams,
        keys: &LinkKeys,
        wrapped_key: LinkWrappedKey,
        receipt_key: &ReceiptKey,
    ) -> Self {
        Self {
            otp_salt,
            kdf,
            verifier: keys.proof.verifier(),
            wrapped_key,
            receipt_key: (*receipt_key.dangerously_expose_bytes()).into(),
        }
    }
}

/// What sign-up (and a password change) uploads (PROTOCOL.md "Accounts"): the public key, the
/// salt and parameters of the password derivation, the sealed private key and the auth key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountKeys {
    /// SPKI DER.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::bytes")]
    pub public_key: Vec<u8>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub salt: [u8; 16],
    pub kdf: KdfParams,
    /// `AES-256-GCM(wrap_key, private_key_pkcs8)`.
    pub sealed_private_key: SealedPrivateKey,
    /// `HKDF(master, "sealpost/v1/auth")`; the relay stores only its argon2id hash.
    pub auth_key: SecretBytes<32>,
}

impl AccountKeys {
    pub fn new(
        public_key_spki: &[u8],
        salt: [u8; 16],
        kdf: KdfParams,
        sealed_private_key: SealedPrivateKey,
        auth_key: &AuthKey,
    ) -> Self {
        Self {
            public_key: public_key_spki.to_vec(),
            salt,
            kdf,
            sealed_private_key,
            auth_key: (*auth_key.dangerously_expose_bytes()).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_response_golden() {
        let health = HealthResponse {
            status: "ok".into(),
            version: "0.1.0".into(),
            protocol: 1,
            client_sha256: String::new(),
        };
        let json = serde_json::to_string(&health).expect("serializes");
        assert_eq!(
            json,
            r#"{"status":"ok","version":"0.1.0","protocol":1,"client_sha256":""}"#
        );
        let old_peer: HealthResponse =
            serde_json::from_str(r#"{"status":"ok","version":"0.0.1","protocol":1}"#)
                .expect("a missing defaulted field is accepted");
        assert_eq!(old_peer.client_sha256, "");
    }

    #[test]
    fn link_guard_golden() {
        let guard = LinkGuard {
            otp_salt: [0x22; 16],
            kdf: KdfParams::CLIENT_V1,
            verifier: LinkVerifier::from_bytes([0xab; 32]),
            wrapped_key: LinkWrappedKey::from_bytes(vec![1, 2, 3]),
            receipt_key: [0; 32].into(),
        };
        let json = serde_json::to_string(&guard).expect("json");
        assert_eq!(
            json,
            concat!(
                r#"{"otp_salt":"IiIiIiIiIiIiIiIiIiIiIg","#,
                r#""kdf":{"alg":"argon2id","m_kib":65536,"t":3,"p":1},"#,
                r#""verifier":"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s","#,
                r#""wrapped_key":"AQID","#,
                r#""receipt_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
            )
        );
        assert_eq!(
            serde_json::from_str::<LinkGuard>(&json).expect("parses"),
            guard
        );
        let short_salt = json.replace("IiIiIiIiIiIiIiIiIiIiIg", "IiIi");
        assert!(serde_json::from_str::<LinkGuard>(&short_salt).is_err());
    }

    #[test]
    fn debug_never_prints_keys_tokens_or_codes() {
        let request = LoginRequest {
            email: "ada@example.com".to_owned(),
            auth_key: [0xab; 32].into(),
        };
        let printed = format!("{request:?}");
        assert!(
            printed.contains("ada@example.com") && printed.contains("***"),
            "{printed}"
        );
        assert!(!printed.contains("171"), "no key bytes: {printed}");
        let verify = MfaVerifyRequest {
            ticket: "ticket-secret".into(),
            code: "123456".into(),
        };
        let printed = format!("{verify:?}");
        assert!(
            !printed.contains("ticket-secret") && !printed.contains("123456"),
            "{printed}"
        );
    }

    #[test]
    fn error_response_golden() {
        let err: ErrorResponse =
            serde_json::from_str(r#"{"code":"not_found","message":"no such route"}"#)
                .expect("parses");
        assert_eq!(err.code, "not_found");
    }
}

/// The role of a user in their organisation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

/// Where an organisation stands with the operator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    /// New: may log in, may not send or request until the operator verifies it.
    Pending,
    Verified,
    /// Stopped by the operator: may log in, may not send or request.
    Suspended,
    /// Closed by its owner: nobody logs in; purged after the retention period (90 days).
    Closed,
}

/// `POST /api/auth/prelogin`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreloginRequest {
    pub email: String,
}

/// The salt and parameters to derive the master key with. For an unknown e-mail the relay
/// answers a deterministic fake salt, so the answer does not reveal who has an account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreloginResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub salt: [u8; 16],
    pub kdf: KdfParams,
}

/// The organisation a first user creates at sign-up.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrganisation {
    pub name: String,
    /// Lowercase letters, digits and dashes, 3 to 32 characters; used in `/p/<handle>`.
    pub handle: String,
}

/// `POST /api/auth/signup`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupRequest {
    pub email: String,
    pub name: String,
    /// A new organisation (the first user becomes its owner)…
    #[serde(default)]
    pub organisation: Option<NewOrganisation>,
    /// …or an invitation into an existing one (the token from the invite link's fragment).
    #[serde(default)]
    pub invite: Option<String>,
    pub keys: AccountKeys,
}

/// `POST /api/auth/signup`'s answer (202) when the relay confirms addresses by mail: the same
/// whether the address was free (a confirmation link was mailed) or already had an account (a
/// notice was mailed instead), so the form does not tell who has an account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupPending {
    pub email: String,
    /// How long the confirmation link is valid.
    pub valid_hours: u32,
}

/// `POST /api/auth/signup/confirm`: the token from the confirmation link's fragment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupConfirmRequest {
    pub token: SecretString,
}

/// `POST /api/auth/signup/confirm`'s answer: the account exists now; log in to use it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupConfirmed {
    pub email: String,
    pub organisation: String,
}

/// `POST /api/org/invites`: invite someone by address, as admin or member.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInviteRequest {
    pub email: String,
    pub role: Role,
}

/// A pending invitation as owners and admins see it. `token` is present only in the answer to
/// its creation (it is stored hashed and cannot be shown again).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub id: crate::ids::Id,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Whether the relay e-mailed the link (it does when SMTP is configured).
    #[serde(default)]
    pub emailed: bool,
}

/// `POST /api/auth/invite`: what an invite token is for, so the join page can say it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLookupRequest {
    pub token: SecretString,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLookupResponse {
    pub organisation: String,
    pub email: String,
    pub role: Role,
    /// The organisation's shortest allowed password, for the join page to enforce.
    #[serde(default = "default_min_password_length")]
    pub min_password_length: u32,
}

fn default_min_password_length() -> u32 {
    OrgPolicy::MIN_PASSWORD_LENGTH
}

/// A member as owners and admins see them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub id: crate::ids::Id,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// `POST /api/org/transfer`: make another member the owner (the owner becomes an admin).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOwnershipRequest {
    pub member: crate::ids::Id,
}

/// `POST /api/org/close`: the organisation's handle, typed again as confirmation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseOrganisationRequest {
    pub handle: String,
}

/// `POST /api/org/members/{id}/role`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRoleRequest {
    pub role: Role,
}

/// `POST /api/auth/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub auth_key: SecretBytes<32>,
}

/// A user as the app shows them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: crate::ids::Id,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// An organisation as the app shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub id: crate::ids::Id,
    pub name: String,
    pub handle: String,
    pub status: OrgStatus,
}

/// The user's own key material, returned at log-in so the browser can unlock the private key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnKeys {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::bytes")]
    pub public_key: Vec<u8>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64Url))]
    #[serde(with = "crate::encoding::array")]
    pub salt: [u8; 16],
    pub kdf: KdfParams,
    pub sealed_private_key: SealedPrivateKey,
}

/// The answer to sign-up, log-in and `GET /api/me`: who is logged in, and the token to send in
/// `X-CSRF-Token` with every state-changing request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    pub user: UserView,
    pub organisation: OrgView,
    pub csrf_token: SecretString,
    pub keys: OwnKeys,
    /// The organisation's rules the browser must apply (it alone sees the password).
    #[serde(default)]
    pub policy: OrgPolicy,
    /// The password is older than the policy allows: it must be changed before anything else.
    #[serde(default)]
    pub password_expired: bool,
    /// The user has a second factor (TOTP).
    #[serde(default)]
    pub mfa_enabled: bool,
    /// The organisation requires a second factor and the user has none yet: enrol first.
    #[serde(default)]
    pub mfa_enrolment_required: bool,
}

/// The answer to `POST /api/auth/login`: a session, or (with a second factor) a ticket to
/// redeem with a code at `POST /api/auth/mfa/verify`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    #[serde(default)]
    pub session: Option<SessionResponse>,
    #[serde(default)]
    pub mfa_ticket: Option<SecretString>,
}

/// `POST /api/auth/mfa/verify`: a TOTP code or a recovery code for a login ticket.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaVerifyRequest {
    pub ticket: SecretString,
    pub code: SecretString,
}

/// `POST /api/auth/mfa/setup`: the secret to put in an authenticator app.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSetupResponse {
    /// Base32, for typing in by hand.
    pub secret: SecretString,
    /// `otpauth://…`, for the QR code.
    pub otpauth_uri: SecretString,
}

/// `POST /api/auth/mfa/confirm`: the first code from the app, proving the enrolment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaConfirmRequest {
    pub code: SecretString,
}

/// Ten single-use recovery codes, shown once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaConfirmResponse {
    pub recovery_codes: Vec<SecretString>,
}

/// An organisation's account rules.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgPolicy {
    /// Shortest password, in characters; never below 12.
    pub min_password_length: u32,
    /// Longest a password may be used, in days; `None` for no limit.
    pub max_password_age_days: Option<u32>,
    /// Every member must use a second factor (TOTP).
    pub mfa_required: bool,
    /// Longest a link (or anything else sent) may live, in days: 1 to 120.
    pub max_expiry_days: u32,
}

impl OrgPolicy {
    /// The floor below which no organisation may go.
    pub const MIN_PASSWORD_LENGTH: u32 = 12;
    /// The default and ceiling of `max_expiry_days` (PRODUCT.md "Expiry").
    pub const MAX_EXPIRY_DAYS: u32 = 120;
}

impl Default for OrgPolicy {
    fn default() -> Self {
        Self {
            min_password_length: Self::MIN_PASSWORD_LENGTH,
            max_password_age_days: None,
            mfa_required: false,
            max_expiry_days: Self::MAX_EXPIRY_DAYS,
        }
    }
}

/// `POST /api/auth/password`: a new password's key material, proven by the current auth key.
/// The public key stays the same; the private key is re-sealed under the new wrap key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_auth_key: SecretBytes<32>,
    pub keys: AccountKeys,
}

/// `GET /api/session`: the session this browser has, if any (200 either way, so that a page
/// checking whether it is logged in produces no error).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    #[serde(default)]
    pub session: Option<SessionResponse>,
}

/// A signed statement of where the audit log stood (PROTOCOL.md, "Audit checkpoints"): kept
/// by an organisation or the operator outside the relay, it later shows whether the log was
/// cut short (an entry it names is gone) or rewritten (that entry's hash changed), which a
/// hash chain alone cannot, since its whole tail can be recomputed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    /// `AuditCheckpoint::VERSION`.
    pub version: u32,
    /// The number of the log's last entry at the time (the log held entries 0 to `seq`).
    pub seq: u64,
    /// That entry's chain hash, lowercase hex.
    pub hash: String,
    /// When it was signed (Unix seconds).
    pub time: i64,
    /// The relay's audit key, an Ed25519 public key, lowercase hex.
    pub relay_key: String,
    /// Ed25519 over `AuditCheckpoint::message`, lowercase hex.
    pub signature: String,
}

impl AuditCheckpoint {
    pub const VERSION: u32 = 1;

    /// What is signed: `"sealpost/v1/audit-checkpoint" ‖ u64be(seq) ‖ hash (32 bytes) ‖
    /// i64be(time)`.
    pub fn message(seq: u64, hash: &[u8; 32], time: i64) -> Vec<u8> {
        let mut message = b"sealpost/v1/audit-checkpoint".to_vec();
        message.extend_from_slice(&seq.to_be_bytes());
        message.extend_from_slice(hash);
        message.extend_from_slice(&time.to_be_bytes());
        message
    }
}

/// One audit log entry as owners and admins see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: u64,
    pub time: i64,
    /// `user`, `api_key`, `operator` or `anonymous`.
    pub actor_kind: String,
    #[serde(default)]
    pub actor_id: Option<crate::ids::Id>,
    #[serde(default)]
    pub ip: Option<String>,
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// Hex of the entry's chain hash.
    pub hash: String,
    /// For an API key, its name (looked up when shown: the chain stores the key's id).
    #[serde(default)]
    pub actor_name: Option<String>,
}
