//! One module per subcommand family.

pub mod bench;
pub mod demo;
pub mod intents;
pub mod speech;
pub mod understand;
