//! The assistant's speech calibration: where it is kept and when it applies.
//!
//! [`crate::understand::calibrate`] chooses, for one grammar, the acoustic
//! fit from which a command is acted on without asking. The assistant keeps
//! the result in its data directory ([`FILE`]) and applies it on every start
//! whose grammar is the one it was made for. When a skill or a device name
//! has changed the grammar since, the fingerprint no longer matches: the
//! default sure point is used and the log says to calibrate again. A file
//! that cannot be read is reported the same way, never a reason not to start.

use std::path::{Path, PathBuf};

use crate::understand::{Calibration, CalibrationError, CalibrationOptions, Understander};

use super::AssistantError;

/// The calibration's file name in the data directory.
pub const FILE: &str = "speech-calibration.json";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Applies the saved calibration to `u` if there is one for its grammar.
pub(super) fn restore(u: &mut Understander, data_dir: &Path) {
    let file = path(data_dir);
    if !file.exists() {
        return;
    }
    match Calibration::load(&file).and_then(|c| u.apply_calibration(&c).map(|()| c)) {
        Ok(c) => tracing::info!(
            sure_word_loop_ratio = c.sure_word_loop_ratio,
            "speech: commands are acted on without asking from the calibrated fit"
        ),
        Err(e @ CalibrationError::OtherGrammar { .. }) => tracing::warn!(
            "speech: {e} (a skill or a device name changed the grammar): the default sure point is used"
        ),
        Err(e) => tracing::warn!("speech: {e}: the default sure point is used"),
    }
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
