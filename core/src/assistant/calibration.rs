//! The assistant's speech calibration: where it is kept and when it applies.
//!
//! [`crate::understand::calibrate`] chooses, for one grammar, the acoustic
//! fit from which a command is acted on without asking. The assistant keeps
//! the result in its data directory ([`FILE`]) and applies it on every start
//! whose grammar is the one it was made for. When a skill or a device name
//! has changed the grammar since, the fingerprint no longer matches: the
//! default sure point is used and the log says to calibrate again. A file
//! that cannot be read is reported the same way, never a reason not to start.
//! The same holds while the assistant runs: when a device or an area changes
//! the grammar, a calibration made for the old one stops applying, and the
//! saved one applies again as soon as the grammar is the one it was made for
//! ([`follow_grammar`]).

use std::path::{Path, PathBuf};

use crate::understand::{Calibration, CalibrationError, CalibrationOptions, Understander};

use super::AssistantError;

/// The calibration's file name in the data directory.
pub const FILE: &str = "speech-calibration.json";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Applies the saved calibration to `u` if there is one for its grammar (on
/// start).
pub(super) fn restore(u: &mut Understander, data_dir: &Path) {
    match load_for(u, data_dir) {
        None => {}
        Some(Ok(c)) => tracing::info!(
            sure_word_loop_ratio = c.sure_word_loop_ratio,
            "speech: commands are acted on without asking from the calibrated fit"
        ),
        Some(Err(e @ CalibrationError::OtherGrammar { .. })) => tracing::warn!(
            "speech: {e} (a skill or a device name changed the grammar, or RNNoise, agreement or open vocabulary is set otherwise): the default sure point is used"
        ),
        Some(Err(e)) => tracing::warn!("speech: {e}: the default sure point is used"),
    }
}

/// After the lists changed the grammar ([`Understander::reload_grammar`]
/// dropped a calibration made for the old one, or there was none;
/// `was_calibrated`: whether one applied before the reload): applies the
/// saved one if it was made for the new grammar, e.g. when a device that was
/// there at calibration time is back. Says nothing when it was not: the start
/// already did.
pub(super) fn follow_grammar(u: &mut Understander, data_dir: &Path, was_calibrated: bool) {
    if u.is_calibrated() {
        return;
    }
    if was_calibrated {
        tracing::warn!(
            sure_word_loop_ratio = u.rejection().sure_word_loop_ratio,
            "speech: the device lists changed the grammar; its calibration no longer applies"
        );
    }
    if let Some(Ok(c)) = load_for(u, data_dir) {
        tracing::info!(
            sure_word_loop_ratio = c.sure_word_loop_ratio,
            "speech: the grammar is one calibrated before; commands are acted on without asking from its calibrated fit"
        );
    }
}

/// The saved calibration applied to `u`, or why not; `None` without a file.
fn load_for(
    u: &mut Understander,
    data_dir: &Path,
) -> Option<Result<Calibration, CalibrationError>> {
    let file = path(data_dir);
    if !file.exists() {
        return None;
    }
    Some(Calibration::load(&file).and_then(|c| u.apply_calibration(&c).map(|()| c)))
}

/// Calibrates `u`, applies the result and saves it in `data_dir`.
pub(super) fn calibrate(
    u: &mut Understander,
    options: &CalibrationOptions,
    data_dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Calibration, AssistantError> {
    let c = u.calibrate(options, progress)?;
    u.apply_calibration(&c)?;
    c.save(&path(data_dir))?;
    Ok(c)
}
