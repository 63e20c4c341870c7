//! `tracegate decode` as a user meets it: the exact JSON line format, stdin with GS bytes kept,
//! exit code 0 when inputs are invalid and 2 on misuse.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

fn decode(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = crate::support::tracegate_command()
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracegate");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn stdin_lines_keep_gs_and_give_one_object_each() {
    // A GS1 DataMatrix read with its AIM identifier and FNC1 as GS, a CR LF line end, an invalid
    // check digit, and an SGTIN-96 tag.
    let stdin = b"]d2010950600013435217201231\x1d10ABC123\r\n\
                  (01)09506000134353\n\
                  3034257BF400B7800004CB2F\n";
    let (code, out, err) = decode(&[], stdin);
    assert_eq!(code, 0, "{err}");
    let got = lines(&out);
    assert_eq!(
        got,
        vec![
            json!({
                "input": "]d2010950600013435217201231\u{1d}10ABC123",
                "kind": "gs1",
                "valid": true,
                "ais": [
                    {"ai": "01", "value": "09506000134352", "title": "GTIN"},
                    {"ai": "17", "value": "201231", "title": "USE BY or EXPIRY"},
                    {"ai": "10", "value": "ABC123", "title": "BATCH/LOT"}
                ]
            }),
            json!({
                "input": "(01)09506000134353",
                "kind": "gs1",
                "valid": false,
                "error": {
                    "kind": "bad_check_digit",
                    "message": got[1]["error"]["message"].clone(),
                    "position": 17
                }
            }),
            json!({
                "input": "3034257BF400B7800004CB2F",
                "kind": "epc",
                "valid": true,
                "ais": [
                    {"ai": "01", "value": "00614141007349", "title": "GTIN"},
                    {"ai": "21", "value": "314159", "title": "SERIAL"}
                ],
                "epc": {
                    "scheme": "sgtin-96",
                    "pure_uri": "urn:epc:id:sgtin:0614141.000734.314159",
                    "tag_uri": "urn:epc:tag:sgtin-96:1.0614141.000734.314159",
                    "filter": 1,
                    "hex": "3034257BF400B7800004CB2F"
                }
            }),
        ]
    );
    let message = got[1]["error"]["message"].as_str().unwrap();
    assert!(message.contains("check digit"), "{message}");
}

#[test]
fn ais_keep_input_order_and_the_raw_line_text() {
    // The input order (17 before 01) is kept, not the sorted order used for validation.
    let (code, out, _) = decode(&["(17)201231(01)09506000134352(10)L1"], b"");
    assert_eq!(code, 0);
    let got = lines(&out);
    let ais: Vec<&str> = got[0]["ais"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ai"].as_str().unwrap())
        .collect();
    assert_eq!(ais, ["17", "01", "10"]);
    // Only a line's end is removed: a trailing space is part of the input (and plain text).
    let (_, out, _) = decode(&["--as", "plain"], b"abc \n");
    assert_eq!(
        lines(&out),
        vec![json!({"input": "abc ", "kind": "plain", "valid": true})]
    );
}

#[test]
fn arguments_digital_link_and_forced_mode() {
    let (code, out, _) = decode(
        &[
            "https://example.com/gtin/01/09506000134352/10/ABC?17=201231",
            "--as",
            "digital-link",
        ],
        b"",
    );
    assert_eq!(code, 0);
    let got = lines(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["kind"], "digital_link");
    assert_eq!(got[0]["valid"], true);
    assert_eq!(got[0]["ais"][2]["ai"], "17");
    assert!(got[0].get("epc").is_none() && got[0].get("error").is_none());

    // Forcing EPC on a GS1 string is an error of the EPC kind, not a fallback.
    let (code, out, _) = decode(&["--as", "epc", "(01)09506000134352"], b"");
    assert_eq!(code, 0);
    let got = lines(&out);
    assert_eq!(got[0]["kind"], "epc");
    assert_eq!(got[0]["valid"], false);
    assert!(got[0]["error"]["kind"].is_string());
}

#[test]
fn requisites_can_be_relaxed() {
    // A serial without its GTIN breaks GS1's requisite rule (21 needs 01) …
    let (_, out, _) = decode(&["(21)12345"], b"");
    let got = lines(&out);
    assert_eq!(got[0]["valid"], false);
    assert_eq!(got[0]["error"]["kind"], "missing_requisite");
    // … which a label split over several symbols needs relaxed.
    let (_, out, _) = decode(&["--no-requisites", "(21)12345"], b"");
    assert_eq!(lines(&out)[0]["valid"], true);
}

#[test]
fn misuse_exits_2_with_nothing_on_stdout() {
    let (code, out, err) = decode(&["--as", "morse", "x"], b"");
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("morse"), "{err}");
}
