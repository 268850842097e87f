//! The relay's one error type at the HTTP edge. Every failure becomes a JSON
//! `wire::ErrorResponse` with a stable code; internal errors are logged with context and answer
//! a generic message, so no detail (and no secret) leaks to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::wire;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("there is nothing here: it does not exist (any more), or it is not yours to see")]
    NotFound,
    #[error("no such API route")]
    NoRoute,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body does not match what this endpoint expects: {0}")]
    InvalidBody(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("wrong e-mail address or password")]
    WrongCredentials,
    #[error("this request lacks a valid X-CSRF-Token header; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "your password has expired under your organisation's policy; change it before anything else"
    )]
    PasswordExpired,
    #[error(
        "your organisation requires a second factor: set up an authenticator app before anything else"
    )]
    MfaEnrolmentRequired,
    #[error("wrong or already used code")]
    WrongCode,
    #[error(
        "too many failed attempts from your network: it is blocked for about {hours} more hour(s); ask your administrator if this is a mistake"
    )]
    IpBlocked { hours: i64 },
    #[error("too many failed attempts for this account: wait {seconds} second(s) and try again")]
    Throttled { seconds: i64 },
    #[error("{message}")]
    Gone {
        code: &'static str,
        message: &'static str,
    },
    #[error(
        "wrong one-time password: {attempts_left} more {} before the link is destroyed",
        if *attempts_left == 1 { "try" } else { "tries" }
    )]
    WrongOtp { attempts_left: u32 },
    #[error(
        "your organisation's storage is full ({used} of {quota} bytes in use): wait for sends to expire or revoke some"
    )]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("{message}")]
    RateLimited { message: String },
    #[error("too many requests from your network; try again in {retry_after_seconds} seconds")]
    SlowDown { retry_after_seconds: u32 },
    #[error(
        "this organisation cannot take more uploads from people without an account right now; try again later"
    )]
    IntakeFull,
    #[error("{message}")]
    PaymentRequired {
        code: &'static str,
        message: &'static str,
    },
    #[error("the payment provider could not be reached or refused; try again in a moment")]
    PaymentProvider(anyhow::Error),
    #[error("the webhook's signature does not verify")]
    BadSignature,
    #[error("the request took too long to arrive; send it again")]
    RequestTimeout,
    #[error("the relay is busy; try again in {retry_after_seconds} seconds")]
    Busy { retry_after_seconds: u32 },
    #[error(
        "the relay's storage is full, so nothing was changed; try again later, or tell the relay's operator"
    )]
    StorageFull,
    #[error(
        "the relay could not store this safely, so nothing was acknowledged; try again in a moment"
    )]
    StorageUnavailable(anyhow::Error),
    #[error(
        "the relay's storage for file contents did not answer, so nothing was acknowledged; try again in a moment"
    )]
    BucketUnavailable(anyhow::Error),
    #[error(
        "the relay could not send mail just now, so nothing was done; try again in a few minutes"
    )]
    MailUnavailable(anyhow::Error),
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    /// A store error that means the disk is full becomes a 507, one from the chunks' bucket a
    /// 503; any other is internal.
    fn from(error: anyhow::Error) -> Self {
        if crate::store::is_disk_full(&error) {
            AppError::StorageFull
        } else if crate::store::is_bucket_error(&error) {
            AppError::BucketUnavailable(error)
        } else {
            AppError::Internal(error)
        }
    }
}

impl From<crate::documents::DocumentError> for AppError {
    fn from(error: crate::documents::DocumentError) -> Self {
        use crate::documents::DocumentError;
        use crate::store::StorageRefusal;
        match error {
            DocumentError::Invalid(message) => AppError::Invalid(message),
            DocumentError::NoReaders => AppError::Conflict(DocumentError::NoReaders.to_string()),
            DocumentError::Refused(StorageRefusal::Quota(full)) => AppError::QuotaExceeded {
                used: full.used,
                quota: full.quota,
            },
            DocumentError::Refused(StorageRefusal::IntakeFull) => AppError::IntakeFull,
            DocumentError::Refused(StorageRefusal::AddressBusy) => AppError::RateLimited {
                message: "uploads from your network already hold as much unfinished data as this relay allows; finish or wait for them, then try again".to_owned(),
            },
            DocumentError::NotFound => AppError::NotFound,
            DocumentError::Store(error) => AppError::from(error),
        }
    }
}

impl From<crate::requests::RequestError> for AppError {
    fn from(error: crate::requests::RequestError) -> Self {
        match error {
            crate::requests::RequestError::Invalid(message) => AppError::Invalid(message),
            crate::requests::RequestError::Store(error) => AppError::from(error),
        }
    }
}

impl From<crate::sends::SendError> for AppError {
    fn from(error: crate::sends::SendError) -> Self {
        use crate::sends::SendError;
        match error {
            SendError::Invalid(message) => AppError::Invalid(message),
            SendError::Quota(full) => AppError::QuotaExceeded {
                used: full.used,
                quota: full.quota,
            },
            SendError::Store(error) => AppError::from(error),
        }
    }
}

impl From<crate::accounts::AccountError> for AppError {
    fn from(error: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError;
        match error {
            AccountError::Invalid(message) => AppError::Invalid(message),
            AccountError::Conflict(message) => AppError::Conflict(message),
            AccountError::Store(error) => AppError::from(error),
        }
    }
}

impl From<crate::links::LinkRefusal> for AppError {
    fn from(refusal: crate::links::LinkRefusal) -> Self {
        use crate::links::LinkRefusal;
        let gone = |code, message| AppError::Gone { code, message };
        match refusal {
            LinkRefusal::NotFound => AppError::NotFound,
            LinkRefusal::Destroyed => gone(
                "destroyed",
                "this link was destroyed after too many wrong one-time passwords; ask the sender to send the documents again",
            ),
            LinkRefusal::DestroyedNow => gone(
                "destroyed",
                "wrong one-time password, and that was the last try: the link is now destroyed; ask the sender to send the documents again",
            ),
            LinkRefusal::Revoked => gone("revoked", "the sender revoked this link"),
            LinkRefusal::Expired => gone(
                "expired",
                "this link has expired; ask the sender to send the documents again",
            ),
            LinkRefusal::UsedUp => gone(
                "used_up",
                "this link has been opened as many times as the sender allowed",
            ),
            LinkRefusal::Deleted => gone(
                "deleted",
                "the documents behind this link are no longer stored",
            ),
            LinkRefusal::SenderUnavailable => gone(
                "sender_unavailable",
                "the sending organisation is suspended or closed, so this link cannot be opened; contact the sender",
            ),
            LinkRefusal::PaymentProcessing => AppError::PaymentRequired {
                code: "payment_processing",
                message: "your payment is being processed; the link opens as soon as it is confirmed",
            },
            LinkRefusal::Refunded => AppError::PaymentRequired {
                code: "refunded",
                message: "the payment for these documents was refunded, so the link is locked; contact the sender",
            },
            LinkRefusal::PaymentRequired => AppError::PaymentRequired {
                code: "payment_required",
                message: "these documents are released only once the invoice is paid: pay it, then type the one-time password",
            },
        }
    }
}

impl From<crate::invoices::InvalidTerms> for AppError {
    fn from(error: crate::invoices::InvalidTerms) -> Self {
        AppError::Invalid(error.0)
    }
}

impl AppError {
    /// The refusal of a change whose session ended while it was on its way.
    pub fn session_ended() -> Self {
        AppError::Unauthenticated("your session has ended; please log in again")
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AppError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            AppError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            AppError::InvalidBody(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            AppError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::WrongCredentials => (StatusCode::UNAUTHORIZED, "wrong_credentials"),
            AppError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::PasswordExpired => (StatusCode::FORBIDDEN, "password_expired"),
            AppError::MfaEnrolmentRequired => (StatusCode::FORBIDDEN, "mfa_enrolment_required"),
            AppError::WrongCode => (StatusCode::UNAUTHORIZED, "wrong_code"),
            AppError::IpBlocked { .. } => (StatusCode::TOO_MANY_REQUESTS, "ip_blocked"),
            AppError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            AppError::Gone { code, .. } => (StatusCode::GONE, code),
            AppError::WrongOtp { .. } => (StatusCode::FORBIDDEN, "wrong_otp"),
            AppError::QuotaExceeded { .. } => (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"),
            AppError::RateLimited { .. } | AppError::SlowDown { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            }
            AppError::IntakeFull => (StatusCode::INSUFFICIENT_STORAGE, "intake_full"),
            AppError::PaymentRequired { code, .. } => (StatusCode::PAYMENT_REQUIRED, code),
            AppError::PaymentProvider(_) => (StatusCode::BAD_GATEWAY, "payment_provider"),
            AppError::BadSignature => (StatusCode::BAD_REQUEST, "bad_signature"),
            AppError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            AppError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            AppError::StorageFull => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            AppError::StorageUnavailable(_) | AppError::BucketUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
            AppError::MailUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "mail_unavailable"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<crate::requests::AnswerError> for AppError {
    fn from(error: crate::requests::AnswerError) -> Self {
        use crate::requests::AnswerError;
        match error {
            AnswerError::Finishing => AppError::Conflict(
                "another upload with this request link is being finished right now; if it fails, try again in a few minutes"
                    .to_owned(),
            ),
            AnswerError::Answered => AppError::Gone {
                code: "fulfilled",
                message: "this request has already been answered; it takes no more documents",
            },
            AnswerError::Gone => AppError::NotFound,
            AnswerError::Store(error) => error.into(),
        }
    }
}

impl From<crate::authz::Denied> for AppError {
    fn from(denied: crate::authz::Denied) -> Self {
        AppError::Forbidden(denied.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
            }
            AppError::PaymentProvider(error) => {
                tracing::warn!(error = format!("{error:#}"), "payment provider call failed");
            }
            AppError::StorageUnavailable(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "a change could not be made durable"
                );
            }
            AppError::BucketUnavailable(error) => {
                tracing::error!(error = format!("{error:#}"), "the chunks' bucket failed");
            }
            AppError::StorageFull => tracing::warn!("refused a change: the storage is full"),
            AppError::MailUnavailable(error) => {
                tracing::warn!(error = format!("{error:#}"), "mail could not be sent");
            }
            _ => {}
        }
        let retry_after = match &self {
            AppError::Busy {
                retry_after_seconds,
            }
            | AppError::SlowDown {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            AppError::StorageUnavailable(_) | AppError::BucketUnavailable(_) => Some(5),
            AppError::MailUnavailable(_) => Some(60),
            _ => None,
        };
        let body = wire::ErrorResponse {
            code: code.to_owned(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
