//! Finds the native speech libraries and tells cargo how to link them.
//!
//! - libvosk (feature `vosk`): `$VOSK_LIB_DIR`, else `$EMMA_HOME/lib`, else
//!   `~/.local/share/emma/lib` (where `scripts/setup` puts it). The directory is
//!   added to the link search path, baked into the rpath of this package's own
//!   tests and examples, and published as `DEP_EMMA_SPEECH_NATIVE_VOSK_LIBDIR`
//!   so binary packages depending on this crate (`emma-cli`, `emma-tests`) can
//!   bake it into their rpath too. Nobody needs `LD_LIBRARY_PATH`.
//! - libpocketsphinx (feature `pocketsphinx`): Debian's `libpocketsphinx-dev`,
//!   found through pkg-config.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=VOSK_LIB_DIR");
    println!("cargo:rerun-if-env-changed=EMMA_HOME");
    println!("cargo:rerun-if-changed=build.rs");

    if std::env::var_os("CARGO_FEATURE_VOSK").is_some() {
        let dir = vosk_lib_dir();
        if !dir.join("libvosk.so").exists() {
            println!(
                "cargo:warning=libvosk.so not found in {} (run scripts/setup, or set VOSK_LIB_DIR, or build with --no-default-features --features pocketsphinx)",
                dir.display()
            );
        }
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("libvosk.so").display()
        );
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        println!("cargo:vosk_libdir={}", dir.display());
    }

    if std::env::var_os("CARGO_FEATURE_POCKETSPHINX").is_some()
        && let Err(err) = pkg_config::Config::new().probe("pocketsphinx")
    {
        panic!(
            "pocketsphinx not found through pkg-config ({err}); install libpocketsphinx-dev (scripts/setup does) or build without the `pocketsphinx` feature"
        );
    }
}

fn vosk_lib_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOSK_LIB_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("EMMA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("lib");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".local/share/emma/lib")
}
