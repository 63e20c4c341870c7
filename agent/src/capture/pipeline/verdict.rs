//! Whether a read is kept: decoded by the device's settings, then accepted or rejected.
//!
//! A read is rejected when it does not decode (bad check digit, unknown AI, …) or decodes to a
//! kind the device does not accept (an EPC on a line that only takes GS1 DataMatrix codes).

use crate::config::CaptureSettings;
use tracegate_identifiers::{self as identify, DecodeError, Identified, Kind};

/// The pipeline's decision about one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and of an accepted kind.
    Accept(Identified),
    /// Not kept as valid; `kind` is what the read was taken for.
    Reject {
        /// What the read was decoded as.
        kind: Kind,
        /// What is wrong, and where.
        error: DecodeError,
    },
}

/// Decodes `payload` as `settings` say and decides.
pub fn judge(payload: &[u8], settings: &CaptureSettings) -> Verdict {
    let decoding = identify::decode(payload, settings.decode_as, settings.rules());
    match decoding.result {
        Err(error) => Verdict::Reject {
            kind: decoding.kind,
            error,
        },
        Ok(id) if settings.accept.contains(&id.kind) => Verdict::Accept(id),
        Ok(id) => Verdict::Reject {
            kind: id.kind,
            error: DecodeError::whole(
                "kind_not_accepted",
                format!(
                    "a valid {} code, but this device accepts only {} (device key `accept`)",
                    id.kind.as_str(),
                    settings
                        .accept
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracegate_identifiers::Mode;

    fn settings(accept: &[Kind]) -> CaptureSettings {
        CaptureSettings {
            accept: accept.to_vec(),
            ..CaptureSettings::default()
        }
    }

    #[test]
    fn valid_reads_of_accepted_kinds_pass_with_their_identifiers() {
        let Verdict::Accept(id) = judge(b"]d20109506000134352\x1d10L1", &settings(&[Kind::Gs1]))
        else {
            panic!("rejected")
        };
        assert_eq!(id.kind, Kind::Gs1);
        assert_eq!(id.symbology.as_deref(), Some("]d2"));
        assert_eq!(id.ais.len(), 2);
    }

    #[test]
    fn invalid_reads_are_rejected_with_the_decode_error() {
        let Verdict::Reject { kind, error } = judge(b"(01)09506000134353", &settings(Kind::ALL))
        else {
            panic!("accepted")
        };
        assert_eq!(kind, Kind::Gs1);
        assert_eq!(error.kind, "bad_check_digit");
        assert_eq!(error.position, Some(17));
    }

    #[test]
    fn kinds_not_accepted_are_rejected_and_named() {
        let Verdict::Reject { kind, error } =
            judge(b"3034257BF400B7800004CB2F", &settings(&[Kind::Gs1]))
        else {
            panic!("accepted")
        };
        assert_eq!(kind, Kind::Epc);
        assert_eq!(error.kind, "kind_not_accepted");
        assert!(error.message.contains("valid epc"), "{}", error.message);
        assert!(error.message.contains("only gs1"), "{}", error.message);
        // Plain text is a kind too: a GS1-only line rejects a misread that is just text.
        assert!(matches!(
            judge(b"hello", &settings(&[Kind::Gs1])),
            Verdict::Reject {
                kind: Kind::Plain,
                ..
            }
        ));
    }

    #[test]
    fn settings_choose_the_mode_and_the_rules() {
        let relaxed = CaptureSettings {
            gs1_requisites: false,
            ..CaptureSettings::default()
        };
        assert!(matches!(
            judge(b"(21)12345", &CaptureSettings::default()),
            Verdict::Reject { .. }
        ));
        assert!(matches!(judge(b"(21)12345", &relaxed), Verdict::Accept(_)));
        let plain = CaptureSettings {
            decode_as: Mode::Plain,
            ..CaptureSettings::default()
        };
        assert!(matches!(
            judge(b"(01)09506000134353", &plain),
            Verdict::Accept(Identified {
                kind: Kind::Plain,
                ..
            })
        ));
    }
}
