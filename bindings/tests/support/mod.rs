//! Shared by the foreign-language tests and the overhead bench: generate the
//! bindings from the built cdylib with this crate's `uniffi-bindgen`, compile
//! the Kotlin once (cached by content across runs), run Kotlin and Python
//! programs, and build a signed skill bundle for them to install.

#![allow(dead_code)]

use emma_core::skills::bundle;
use emma_core::skills::guest_build::build_bundle;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// This crate's directory (`bindings/`).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    crate_dir()
        .parent()
        .expect("bindings/ has a parent")
        .to_path_buf()
}

/// Scratch space that survives between runs (Kotlin jar cache, skill guests).
pub fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("emma-bindings")
}

/// `target/<profile>`: where cargo put `libemma_bindings.so` next to this test binary.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("exe dir");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("profile dir")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// The cdylib foreign code loads: the one cargo built beside this test binary
/// (`deps/`; `cargo test` does not always refresh the copy in `target/<profile>`).
pub fn cdylib() -> PathBuf {
    let name = format!(
        "{}emma_bindings{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("current exe");
    let beside = exe.parent().expect("exe dir").join(&name);
    let lib = if beside.exists() {
        beside
    } else {
        profile_dir().join(name)
    };
    assert!(
        lib.exists(),
        "{} is missing: cargo builds it with the emma-bindings lib",
        lib.display()
    );
    lib
}

/// Runs a command, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generates bindings for `language` (`kotlin`, `python`, `swift`) once per process; returns the directory.
pub fn generate(language: &str) -> PathBuf {
    static DONE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    let map = DONE.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = map.get(language) {
        return dir.clone();
    }
    let out = scratch().join(format!("generated-{language}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("creating the bindings dir");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
            .args(["generate", "--library"])
            .arg(cdylib())
            .args(["--language", language, "--no-format", "--out-dir"])
            .arg(&out)
            .current_dir(crate_dir()),
        &format!("uniffi-bindgen generate --language {language}"),
    );
    map.insert(language.to_string(), out.clone());
    out
}

/// The Moonshine English model `scripts/setup` installs.
pub fn moonshine_model() -> PathBuf {
    let dir = emma_home().join("models/moonshine-base-en");
    assert!(
        dir.join("lib/libonnxruntime.so.1").is_file(),
        "{} is missing: run scripts/setup",
        dir.display()
    );
    dir
}

/// Where `scripts/setup` installs npm packages (`$EMMA_HOME/npm`) and models.
fn emma_home() -> PathBuf {
    if let Some(h) = std::env::var_os("EMMA_HOME") {
        return PathBuf::from(h);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share")
        });
    data.join("emma")
}

/// The npm `kotlin-compiler` package `scripts/setup` installs.
pub fn kotlin_home() -> PathBuf {
    let home = emma_home().join("npm/node_modules/kotlin-compiler");
    assert!(
        home.join("bin/kotlinc").exists(),
        "kotlinc not found in {}: run scripts/setup (it installs the npm package kotlin-compiler)",
        home.display()
    );
    home
}

/// JNA from Debian's `libjna-java`.
pub fn jna_jar() -> PathBuf {
    let jar = PathBuf::from("/usr/share/java/jna.jar");
    assert!(
        jar.exists(),
        "{} not found: run scripts/setup (apt package libjna-java)",
        jar.display()
    );
    jar
}

/// The classpath for running compiled Kotlin: the jar, JNA, coroutines and the Kotlin stdlib.
pub fn kotlin_classpath(jar: &Path) -> String {
    let k = kotlin_home();
    [
        jar.to_path_buf(),
        jna_jar(),
        k.join("lib/kotlinx-coroutines-core-jvm.jar"),
        k.join("lib/kotlin-stdlib.jar"),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect::<Vec<_>>()
    .join(":")
}

fn kotlin_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            kotlin_sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "kt") {
            out.push(p);
        }
    }
}

/// Compiles the generated Kotlin bindings plus every `.kt` under `dirs` into
/// one jar named after `name` with `kotlinc -Werror`, once per process and
/// only when a source changed since the last run (kotlinc takes tens of seconds).
pub fn kotlin_jar(name: &str, dirs: &[PathBuf]) -> PathBuf {
    static JARS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    let jars = JARS.get_or_init(Default::default);
    let mut jars = jars.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(j) = jars.get(name) {
        return j.clone();
    }
    let mut sources = Vec::new();
    kotlin_sources(&generate("kotlin"), &mut sources);
    for d in dirs {
        kotlin_sources(d, &mut sources);
    }
    let mut h = DefaultHasher::new();
    for s in &sources {
        s.hash(&mut h);
        std::fs::read(s)
            .expect("reading a Kotlin source")
            .hash(&mut h);
    }
    let jar = scratch().join(format!("kotlin-{name}-{:016x}.jar", h.finish()));
    if !jar.exists() {
        let k = kotlin_home();
        let cp = [jna_jar(), k.join("lib/kotlinx-coroutines-core-jvm.jar")]
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        let tmp = jar.with_extension("partial.jar");
        run_ok(
            Command::new(k.join("bin/kotlinc"))
                .arg("-Werror")
                .arg("-cp")
                .arg(&cp)
                .arg("-d")
                .arg(&tmp)
                .args(&sources),
            "kotlinc -Werror",
        );
        std::fs::rename(&tmp, &jar).expect("moving the jar in place");
    }
    jars.insert(name.to_string(), jar.clone());
    jar
}

/// A `java` command running `main_class` from `jar` with the bindings' library path set.
pub fn java(jar: &Path, main_class: &str) -> Command {
    java_with(jar, main_class, &[])
}

/// [`java`] with extra JVM options (`-Xmn16m`…) before the main class.
pub fn java_with(jar: &Path, main_class: &str, jvm_options: &[&str]) -> Command {
    let mut cmd = Command::new("java");
    cmd.args(jvm_options)
        .arg("-cp")
        .arg(kotlin_classpath(jar))
        .arg(format!(
            "-Djna.library.path={}",
            cdylib().parent().expect("library dir").display()
        ))
        .arg(main_class);
    cmd
}

/// The generated Python module's directory, with the cdylib copied beside it (where the module loads it from).
pub fn python_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = generate("python");
        let lib = cdylib();
        std::fs::copy(&lib, dir.join(lib.file_name().expect("lib name")))
            .expect("copying the cdylib");
        dir
    })
    .clone()
}

/// A `python3` command running `script` with the generated module importable.
pub fn python(script: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .env("PYTHONPATH", python_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// A signed bundle of the example coffee skill and the public key text that signs it (built once per process).
pub fn signed_coffee_bundle() -> (PathBuf, String) {
    static OUT: OnceLock<(PathBuf, String)> = OnceLock::new();
    OUT.get_or_init(|| {
        let b = build_bundle(
            &repo().join("skills/examples/coffee"),
            &scratch().join("skill-guests"),
        )
        .unwrap_or_else(|e| panic!("building the coffee skill: {e}"));
        let key = bundle::generate_key().expect("a signing key");
        let path = scratch().join("coffee.emmaskill");
        std::fs::write(&path, b.to_bytes(Some(&key))).expect("writing the bundle");
        (path, bundle::public_key_text(&key.verifying_key()))
    })
    .clone()
}
