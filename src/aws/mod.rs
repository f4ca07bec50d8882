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

/// An SDK time (S3's and Glue's are one type) as ours, to the millisecond.
pub fn utc(t: &aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    t.to_millis()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
}
