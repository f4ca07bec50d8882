//! One upload inside one invocation: the event's records ([`intake`]) and their [`order`], the transform from the
//! key ([`route`]), the replace flag ([`metadata`]), the file's check ([`preflight`]), what came
//! of it ([`outcome`]) and the per-upload path that runs them ([`pipeline`]).

mod admit;
pub mod intake;
pub mod metadata;
pub mod order;
pub mod outcome;
pub mod pipeline;
pub mod preflight;
pub mod route;
