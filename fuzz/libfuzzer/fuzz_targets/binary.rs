//! libFuzzer entry for the `binary` target (see `evcached_fuzz::TARGETS`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = evcached_fuzz::target("binary").expect("target");
    (target.run)(data);
});
