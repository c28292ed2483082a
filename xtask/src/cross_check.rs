//! `cargo xtask cross-check [TARGET...]`: type-check and lint the whole workspace for the
//! operating systems this machine cannot run (macOS, FreeBSD, NetBSD, illumos).
//!
//! Method: Debian's `rustc-web` ships a rustc whose std sources live in `rust-web-src`
//! (`<sysroot>/lib/rustlib/src/rust/library`), and `rust-web-clippy` its clippy. With
//! `RUSTC_BOOTSTRAP=1`, `cargo check -Zbuild-std=std,panic_abort --target T` builds std's
//! metadata for `T` from those sources, so no prebuilt std for `T` is needed. Only checks
//! run (no codegen, no linking), all targets (libs, bins, tests, benches, examples), in
//! one target dir shared across targets so host build scripts and the lock file are
//! reused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{have, root};

/// The targets CI proves, one per kqueue/evport family member we support.
pub const TARGETS: &[&str] = &[
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-unknown-freebsd",
    "x86_64-unknown-netbsd",
    "x86_64-unknown-illumos",
];

/// The Debian packages that provide the toolchain: compiler, cargo, std sources, clippy.
const PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "rust-web-clippy"];

/// Overrides the toolchain's `bin` directory (any toolchain whose sysroot has the std
/// sources, e.g. a rustup nightly with `rust-src`), skipping the Debian packages.
const BIN_ENV: &str = "XTASK_CROSS_TOOLCHAIN_BIN";

/// Clippy's arguments: every warning (workspace lints included) is an error, except
/// `missing_const_for_thread_local`, which clippy 1.96 raises on illumos for a
/// `thread_local!` that already has a `const { .. }` initializer (the target's TLS
/// expansion differs); the host clippy run of `cargo xtask ci` still enforces it.
const LINT: [&str; 5] = [
    "--",
    "-D",
    "warnings",
    "-A",
    "clippy::missing_const_for_thread_local",
];

/// Runs clippy (or, without clippy, check) for every requested target (all of
/// [`TARGETS`] by default).
pub fn run(args: &[String]) -> Result<(), String> {
    let targets: Vec<&str> = if args.is_empty() {
        TARGETS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let bin = toolchain_bin()?;
    let clippy = bin.join("cargo-clippy").is_file() && bin.join("clippy-driver").is_file();
    if !clippy {
        eprintln!(
            "==> cross-check: no clippy in {} (Debian package rust-web-clippy); \
             running cargo check only",
            bin.display()
        );
    }
    check_std_sources(&bin)?;
    let target_dir = cross_target_dir();
    eprintln!(
        "==> cross-check: toolchain {}, target dir {}",
        version(&bin),
        target_dir.display()
    );

    // Every target runs even after a failure, so one CI run reports all of them.
    let started = Instant::now();
    let mut results = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let t0 = Instant::now();
        let tag = format!("[{}/{}] {target}", i + 1, targets.len());
        // clippy-driver is rustc plus lints: one clippy run type-checks everything a
        // `cargo check` would (and fails on its errors), so a separate check would only
        // repeat the work.
        let res = if clippy {
            eprintln!("==> cross-check {tag}: cargo clippy (check + lints, -D warnings)");
            cross_cargo(&bin, &target_dir, target, "clippy", &LINT)
        } else {
            eprintln!("==> cross-check {tag}: cargo check");
            cross_cargo(&bin, &target_dir, target, "check", &[])
        };
        let secs = t0.elapsed().as_secs_f64();
        let status = if res.is_ok() { "ok" } else { "FAILED" };
        eprintln!("==> cross-check {tag}: {status} in {secs:.1}s");
        results.push((*target, status, secs));
    }
    eprintln!("==> cross-check summary:");
    for (target, status, secs) in &results {
        eprintln!("    {target:<26} {status:<6} {secs:>6.1}s");
    }
    let total = started.elapsed().as_secs_f64();
    eprintln!("    {:<26} {:<6} {total:>6.1}s", "total", "");
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.1 != "ok")
        .map(|r| r.0)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("cross-check failed for {}", failed.join(", ")))
    }
}

/// One `cargo <sub> -Zbuild-std ... --target <target> --workspace --all-targets` run with
/// the cross toolchain first in PATH and every variable that could pull in another
/// toolchain (rustup's, or the one running xtask) removed.
fn cross_cargo(
    bin: &Path,
    target_dir: &Path,
    target: &str,
    sub: &str,
    tail: &[&str],
) -> Result<(), String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))?;

    let mut cmd = Command::new(bin.join("cargo"));
    cmd.current_dir(root())
        .env("PATH", path)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir)
        .args([sub, "-Zbuild-std=std,panic_abort", "--target", target])
        .args(["--workspace", "--all-targets"])
        .args(tail);
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTC",
        "LD_LIBRARY_PATH",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", bin.join("cargo").display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cross-check: cargo {sub} for {target} failed ({status})"
        ))
    }
}

/// The `bin` directory of the cross toolchain: `$XTASK_CROSS_TOOLCHAIN_BIN`, or the one
/// the Debian packages install (installed first when missing and running as root).
fn toolchain_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("cargo").is_file() && dir.join("rustc").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "{BIN_ENV}={} has no cargo and rustc",
                dir.display()
            ))
        };
    }
    if !have("dpkg-query", &["--version"]) {
        return Err(format!(
            "cross-check needs Debian's {} packages (no dpkg-query here); on another system \
             point {BIN_ENV} at the bin directory of a toolchain that has the std sources \
             (for example a rustup nightly with the rust-src component)",
            PACKAGES.join(", ")
        ));
    }
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if !missing.is_empty() {
        install(&missing)?;
    }
    let rustc = package_file("rustc-web", "/bin/rustc")?;
    let dir = rustc
        .parent()
        .ok_or("rustc-web: rustc has no parent directory")?
        .to_path_buf();
    let cargo = package_file("cargo-web", "/bin/cargo")?;
    if cargo.parent() != Some(dir.as_path()) {
        return Err(format!(
            "rustc-web's rustc ({}) and cargo-web's cargo ({}) are in different directories",
            rustc.display(),
            cargo.display()
        ));
    }
    Ok(dir)
}

/// True when dpkg says `package` is installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs `packages` with apt-get when running as root, else explains what to run.
fn install(packages: &[&str]) -> Result<(), String> {
    let list = packages.join(" ");
    if !is_root() {
        return Err(format!(
            "cross-check needs the Debian packages: {list}\n\
             install them as root: apt-get install -y {list}"
        ));
    }
    eprintln!("==> cross-check: installing {list}");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    // A stale package index is the usual reason for a failed install: refresh once.
    if apt(&args) || (apt(&["update", "-q"]) && apt(&args)) {
        Ok(())
    } else {
        Err(format!("apt-get install {list} failed"))
    }
}

/// True when the effective user is root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The file of `package` whose path ends with `suffix` (`dpkg -L`).
fn package_file(package: &str, suffix: &str) -> Result<PathBuf, String> {
    let out = Command::new("dpkg")
        .args(["-L", package])
        .output()
        .map_err(|e| format!("dpkg -L {package}: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(suffix))
        .map(PathBuf::from)
        .ok_or_else(|| format!("package {package} has no file ending in {suffix}"))
}

/// Fails clearly when the toolchain's sysroot lacks the std sources `-Zbuild-std` needs.
fn check_std_sources(bin: &Path) -> Result<(), String> {
    let out = Command::new(bin.join("rustc"))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("{}: {e}", bin.join("rustc").display()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lock = sysroot.join("lib/rustlib/src/rust/library/Cargo.lock");
    if lock.is_file() {
        Ok(())
    } else {
        Err(format!(
            "no std sources at {} (Debian package rust-web-src)",
            lock.parent().unwrap_or(&sysroot).display()
        ))
    }
}

/// `rustc --version` of the cross toolchain, for the log.
fn version(bin: &Path) -> String {
    Command::new(bin.join("rustc"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// `<target dir>/cross`: separate from the host builds (another compiler would
/// invalidate their fingerprints) and shared by all cross targets.
fn cross_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("cross")
}
