//! The tests' EPCIS 2.0 repository (capture interface only), to point a demo gateway at:
//!
//! ```text
//! cargo run -p tracegate --example epcis_repository -- 127.0.0.1:8090
//! ```
//!
//! then `[epcis] url = "http://127.0.0.1:8090/"`. It checks every request against GS1's REST
//! bindings and every document against the EPCIS 2.0 schema, and prints each request and,
//! every few seconds, how many events it holds and what was off the standard.

#[path = "../../tests/support/epcis_repository.rs"]
mod epcis_repository;
#[path = "../../tests/support/epcis_schema.rs"]
#[allow(dead_code)] // the repository uses its validator, not its assertion
mod epcis_schema;

use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let port: u16 = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("give the address as 127.0.0.1:PORT");
    let repository = epcis_repository::Repository::start_on(port, Default::default()).await;
    println!("EPCIS repository: [epcis] url = \"{}\"", repository.url());
    let mut shown = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        let (requests, events, violations) =
            repository.with(|s| (s.requests.clone(), s.events.len(), s.violations.clone()));
        for request in &requests[shown..] {
            println!("{request}");
        }
        shown = requests.len();
        println!(
            "holds {events} events; {} requests off the standard",
            violations.len()
        );
        for violation in violations.iter().rev().take(3) {
            println!("  {violation}");
        }
    }
}
