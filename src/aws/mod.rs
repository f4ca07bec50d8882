//! The AWS adapters, the only modules that name SDK types: documents kept with conditional
//! writes ([`documents`]), Glue's ML task runs ([`glue`]) and its teaching-loop calls
//! ([`findmatches`]), the label object ([`s3`]) and its tags ([`tags`]), the notifications'
//! topic ([`sns`]).

pub mod documents;
pub mod findmatches;
pub mod glue;
pub mod s3;
pub mod sns;
pub mod tags;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Whether a call sent without retry got no clear answer (a 5xx, a timeout, a connection
/// lost): it may have taken effect. Every SDK's errors are one type.
pub fn is_unclear<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(service) => service.raw().status().as_u16() >= 500,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// A failed call's error code and message: the service's, else what went wrong on the way
/// (`RequestConstruction`, `Timeout`, `NetworkError`).
pub fn code_and_message<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> (String, String) {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {}", service.raw().status().as_u16()));
            (code, e.message().unwrap_or("no message").to_string())
        }
        SdkError::ConstructionFailure(_) => (
            "RequestConstruction".to_string(),
            DisplayErrorContext(err).to_string(),
        ),
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            "no answer within the SDK timeouts".to_string(),
        ),
        _ => (
            "NetworkError".to_string(),
            DisplayErrorContext(err).to_string(),
        ),
    }
}

/// An SDK time (S3's and Glue's are one type) as ours, to the millisecond.
pub fn utc(t: &aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    t.to_millis()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
}
