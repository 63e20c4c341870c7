//! GS1 GCP length tables (XML, JSON, gzipped) from an integrator's file: errors, never panics;
//! a table that parses answers lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate_identifiers::gcp::GcpTable;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = GcpTable::parse(data) {
        for key in ["0614141123452", "4012345000009", "950600013435", "1", ""] {
            if let Some(len) = table.length(key) {
                assert!(len <= key.len());
            }
        }
    }
});
