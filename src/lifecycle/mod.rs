//! An import's life across invocations: its [`ledger`] entry, its transform's [`lane`], its
//! [`start`] (exactly once) and the scheduled [`tick`] that follows it to its end.

pub mod lane;
pub mod ledger;
pub mod start;
pub mod tick;
