//! libFuzzer entry for the `ascii` target (see `evcached_fuzz::TARGETS`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = evcached_fuzz::target("ascii").expect("target");
    (target.run)(data);
});
