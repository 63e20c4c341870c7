//! A broker that answers CONNECT with a refusal (MQTT 3.1.1 §3.2.2.3, CONNACK return codes 1–5)
//! is reachable: retrying at network speed only fills its log, and calling it an outage sends
//! the integrator to check cables when the fix is a password. This names each refusal, the
//! setting to check, and how long to wait before the next try.

use std::time::Duration;

use rumqttc::ConnectReturnCode;

/// Why the broker refused the session, in words, with the settings a user checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The CONNACK return code.
    pub code: ConnectReturnCode,
}

impl Refusal {
    /// The refusal a connection error carries, if it is one.
    pub fn of(error: &rumqttc::ConnectionError) -> Option<Refusal> {
        match error {
            rumqttc::ConnectionError::ConnectionRefused(code)
                if *code != ConnectReturnCode::Success =>
            {
                Some(Refusal { code: *code })
            }
            _ => None,
        }
    }

    /// A short stable name, for status JSON and the metrics label.
    pub fn name(&self) -> &'static str {
        match self.code {
            ConnectReturnCode::Success => "success",
            ConnectReturnCode::RefusedProtocolVersion => "protocol_version",
            ConnectReturnCode::BadClientId => "client_id",
            ConnectReturnCode::ServiceUnavailable => "server_unavailable",
            ConnectReturnCode::BadUserNamePassword => "bad_user_name_or_password",
            ConnectReturnCode::NotAuthorized => "not_authorized",
        }
    }

    /// What happened and what to check, one sentence for the log and the status line.
    pub fn explain(&self) -> &'static str {
        match self.code {
            ConnectReturnCode::Success => "accepted",
            ConnectReturnCode::RefusedProtocolVersion => {
                "the broker REFUSED the connection: it does not speak MQTT 3.1.1; enable MQTT v3.1.1 on the broker"
            }
            ConnectReturnCode::BadClientId => {
                "the broker REFUSED the connection: it does not accept the client id; check mqtt.client_id (and whether the broker bans it)"
            }
            ConnectReturnCode::ServiceUnavailable => {
                "the broker REFUSED the connection: it says it is unavailable; check the broker's own log"
            }
            ConnectReturnCode::BadUserNamePassword => {
                "the broker REFUSED the connection: bad user name or password; check mqtt.username and mqtt.password_file"
            }
            ConnectReturnCode::NotAuthorized => {
                "the broker REFUSED the connection: not authorised (a wrong password, an unknown user or the broker's ACL); check mqtt.username, mqtt.password_file and the broker's ACL"
            }
        }
    }

    /// How long to wait before trying again: a refusal does not heal by itself (somebody
    /// must change a password or an ACL), so the next try comes after the longest backoff,
    /// never sooner than `floor`.
    pub fn retry_after(max_backoff: Duration, floor: Duration) -> Duration {
        max_backoff.max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_named_with_the_keys_to_check() {
        let err = rumqttc::ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized);
        let refusal = Refusal::of(&err).expect("a refusal");
        assert_eq!(refusal.name(), "not_authorized");
        assert!(refusal.explain().contains("mqtt.password_file"));
        assert!(refusal.explain().contains("ACL"));
        let bad = Refusal {
            code: ConnectReturnCode::BadUserNamePassword,
        };
        assert!(bad.explain().contains("mqtt.username"));
    }

    #[test]
    fn a_network_error_is_not_a_refusal() {
        let err = rumqttc::ConnectionError::NotConnAck(rumqttc::Packet::PingResp);
        assert_eq!(Refusal::of(&err), None);
    }

    #[test]
    fn a_refusal_waits_at_least_the_floor() {
        assert_eq!(
            Refusal::retry_after(Duration::from_secs(60), Duration::from_secs(5)),
            Duration::from_secs(60)
        );
        assert_eq!(
            Refusal::retry_after(Duration::from_secs(1), Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
