//! Guest SDK for writing Emma brand skills as WebAssembly components.
//!
//! Not built yet (issue 5).
#![forbid(unsafe_code)]
