//! The MQTT topics of one gateway (docs/ARCHITECTURE.md, "MQTT contract").

use crate::config::{GatewayId, TopicPrefix};

/// Topic names, built once from `mqtt.topic_prefix` and `gateway.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// `{prefix}/{gateway}/events`: EPCIS documents, QoS 1.
    pub events: String,
    /// `{prefix}/{gateway}/status`: retained status; the Last Will says offline.
    pub status: String,
    /// `{prefix}/{gateway}/cmd/+`: commands in.
    pub commands: String,
    /// `{prefix}/{gateway}/reply`: replies go to `{reply}/{request id}`.
    pub reply: String,
    /// `{prefix}`, for the topics of gateways whose exports were imported here.
    prefix: String,
}

impl Topics {
    /// The topics of `gateway` under `prefix`.
    pub fn new(prefix: &TopicPrefix, gateway: &GatewayId) -> Self {
        let base = format!("{}/{}", prefix.as_str(), gateway.as_str());
        Topics {
            events: format!("{base}/events"),
            status: format!("{base}/status"),
            commands: format!("{base}/cmd/+"),
            reply: format!("{base}/reply"),
            prefix: prefix.as_str().to_string(),
        }
    }

    /// The events topic of an event from `origin` (imported from that gateway's export), or
    /// this gateway's own.
    pub fn events_of(&self, origin: Option<&str>) -> String {
        match origin {
            Some(gateway) => format!("{}/{gateway}/events", self.prefix),
            None => self.events.clone(),
        }
    }

    /// The command name of a publish on the command topic, if it is one.
    pub fn command_name<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let base = self.commands.strip_suffix('+')?;
        topic
            .strip_prefix(base)
            .filter(|n| !n.is_empty() && !n.contains('/'))
    }

    /// Where the reply to request `id` goes.
    pub fn reply_to(&self, id: &str) -> String {
        format!("{}/{}", self.reply, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_contract() {
        let t = Topics::new(
            &TopicPrefix::try_from("acme/edge".to_string()).unwrap(),
            &GatewayId::try_from("gw-1".to_string()).unwrap(),
        );
        assert_eq!(t.events, "acme/edge/gw-1/events");
        assert_eq!(t.status, "acme/edge/gw-1/status");
        assert_eq!(t.commands, "acme/edge/gw-1/cmd/+");
        assert_eq!(t.command_name("acme/edge/gw-1/cmd/print"), Some("print"));
        assert_eq!(t.command_name("acme/edge/gw-1/cmd/"), None);
        assert_eq!(t.command_name("acme/edge/gw-2/cmd/print"), None);
        assert_eq!(t.reply_to("r1"), "acme/edge/gw-1/reply/r1");
    }
}
