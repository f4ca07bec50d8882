//! The AWS adapters: Glue's ML task runs ([`glue`]) and the label object's tags ([`tags`]).

pub mod glue;
pub mod tags;
