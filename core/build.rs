//! Bakes libvosk's directory into the rpath of this crate's own test
//! binaries, so its unit tests that open a recogniser run without
//! `LD_LIBRARY_PATH` (see `cli/build.rs`).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR");
    if let Some(dir) = std::env::var_os("DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
