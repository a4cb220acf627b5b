//! One module per subcommand family.

pub mod bench;
pub mod demo;
pub mod desk;
pub mod devices;
pub mod insights;
pub mod intents;
pub mod privacy;
pub mod run;
pub mod skill;
pub mod speech;
pub mod understand;
pub mod wyoming;
