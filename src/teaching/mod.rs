//! FindMatches' teaching loop, per transform: after a round's imports, evaluate the transform
//! once, keep what the evaluation measured, and decide whether to hand the labeler another
//! labeling set ([`rounds`]: the model and its rules, pure).

pub mod rounds;
