//! Declares the private cfg that forces the portable backend's oneshot path, so Linux
//! CI can run the conformance suite on it:
//! `RUSTFLAGS="--cfg evcached_portable_oneshot" cargo test -p event-core`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(evcached_portable_oneshot)");
}
