//! Bakes the directory of libvosk into the `emma` binary's rpath, so it runs
//! without `LD_LIBRARY_PATH`. `emma-speech`'s build script finds the library
//! and publishes its directory as `DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR`
//! (cargo's `links` metadata); `cargo:rustc-link-arg` only reaches the
//! binaries of the package that emits it, hence this script.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR");
    if let Some(dir) = std::env::var_os("DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
