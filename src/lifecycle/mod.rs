//! An import's life across invocations: its [`entry`] (the model, pure), the [`ledger`] that
//! keeps it, its transform's [`lane`], its
//! [`start`] (exactly once) and the scheduled [`tick`] that follows it to its end.

pub mod entry;
pub mod lane;
pub mod ledger;
pub mod start;
pub mod tick;
