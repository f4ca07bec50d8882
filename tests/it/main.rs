//! Every integration test of glue-label-importer, in one test binary (one link of the AWS
//! SDKs instead of one per file). One module per area; run one with
//! `cargo test --test it <module>::`, e.g. `cargo test --test it e2e_lanes::`.
//!
//! - Mocked: the real SDK clients answered by `aws-smithy-mocks` rules ([`mocks`]):
//!   `critical_path`, `findmatches`, `handler`, `ledger`, `notify` (its claim race also on
//!   moto), `tick`, `triggers`, and `documents` (also on moto).
//! - End to end: the real binaries against moto and glue-local on loopback (the
//!   `local-stack` crate): `cli`, `e2e`, `e2e_by_hand`, `e2e_lanes`, `e2e_ledger`, `e2e_loop`, `e2e_notify`, `e2e_triggers`,
//!   `startup`.
//!   moto is one server per process, leased to one test at a time, so these tests — the
//!   50-round races among them — run one after another.
//! - Files: `events` (the sample events), `template` (template.yaml), `docs` (the docs agree
//!   with the code, the template and Cargo.toml; their relative links resolve).

mod cli;
mod critical_path;
mod docs;
mod documents;
mod e2e;
mod e2e_by_hand;
mod e2e_lanes;
mod e2e_ledger;
mod e2e_loop;
mod e2e_notify;
mod e2e_triggers;
mod events;
mod findmatches;
mod handler;
mod ledger;
mod mocks;
mod notify;
mod startup;
mod template;
mod tick;
mod triggers;
