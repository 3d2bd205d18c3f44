//! Any UTF-8 input: no panic; a magnet link that parses prints to a link that parses to
//! the same value, and printing is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metainfo::Magnet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(magnet) = Magnet::parse(text) else {
        return;
    };
    let printed = magnet.to_string();
    let again = Magnet::parse(&printed).expect("a printed magnet link parses");
    assert_eq!(again, magnet, "parse(print(m)) == m");
    assert_eq!(again.to_string(), printed, "printing is stable");
});
