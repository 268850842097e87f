//! The CSP report endpoint's decoder (`POST /api/csp-report`) never panics, and what it logs
//! keeps its promises: the directive is the violated one (else the effective one) cut to at
//! most 64 characters, and the blocked source is only its origin: a prefix of what was
//! reported, at most 128 characters, with nothing of the path, query or fragment (a source
//! without `://`, a keyword such as `inline`, at most 32 characters). `truncate` never splits
//! a character and keeps exactly `min(max, length)` characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay::fuzzing::CspReport;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = CspReport::parse(data) {
        let directive = if report.violated_directive.is_empty() {
            &report.effective_directive
        } else {
            &report.violated_directive
        };
        assert!(directive.starts_with(&report.logged_directive));
        assert_eq!(
            report.logged_directive.chars().count(),
            directive.chars().count().min(64)
        );
        origin(&report.blocked_uri, &report.logged_blocked);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let chosen = data.first().map_or(0, |&byte| usize::from(byte));
        for max in [0, 1, 2, 32, 64, 128, chosen, usize::MAX] {
            truncate(text, max);
        }
        origin(text, CspReport::origin_only(text));
    }
});

fn truncate(text: &str, max: usize) {
    let cut = CspReport::truncate(text, max);
    assert_eq!(cut.as_ptr(), text.as_ptr(), "not a prefix");
    assert!(text.is_char_boundary(cut.len()));
    assert_eq!(cut.chars().count(), text.chars().count().min(max));
}

fn origin(uri: &str, logged: &str) {
    assert!(
        uri.starts_with(logged),
        "{logged:?} is not a prefix of {uri:?}"
    );
    let Some(scheme_end) = uri.find("://") else {
        assert!(logged.chars().count() <= 32);
        return;
    };
    assert!(logged.chars().count() <= 128);
    if let Some(after_scheme) = logged.get(scheme_end + 3..) {
        assert!(
            !after_scheme.contains(['/', '?', '#']),
            "{logged:?} has more than the origin of {uri:?}"
        );
    }
}
