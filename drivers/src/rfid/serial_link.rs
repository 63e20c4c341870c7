//! What the gateway-driven serial readers ([`super::r2000`], [`super::chafon`]) share: waiting
//! for the next frame on the line — the session is lost to silence, a closed port or a read
//! error, and cancellation wins — and reporting a bad frame seen on the way. Each protocol
//! keeps its own codec and decides what a frame means; only the waiting is written once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Framed};
use tokio_util::sync::CancellationToken;

use crate::lifecycle::SessionEnd;
use crate::read::DeviceEvent;

/// How a kind of serial reader is named in the messages a lost session gives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineWords {
    /// "reader", "module".
    pub what: &'static str,
    /// What to check about its speed, e.g. "Chafon readers default to 57600".
    pub baud_hint: &'static str,
}

/// The next item on `link`, waiting at most `limit`; `doing` says what the session was
/// waiting for, in the message of a reader that fell silent.
pub(crate) async fn next_item<T, C>(
    link: &mut Framed<T, C>,
    limit: Duration,
    doing: &str,
    words: LineWords,
    cancel: &CancellationToken,
) -> Result<C::Item, SessionEnd>
where
    T: AsyncRead + AsyncWrite + Unpin,
    C: Decoder,
    C::Error: std::fmt::Display,
{
    let item = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(SessionEnd::Cancelled),
        item = tokio::time::timeout(limit, link.next()) => item,
    };
    match item {
        Err(_) => Err(SessionEnd::Lost(format!(
            "{} stopped answering ({doing}: nothing for {} ms); check its power and cable, and \
             the port's baud rate ({})",
            words.what,
            limit.as_millis(),
            words.baud_hint
        ))),
        Ok(None) => Err(SessionEnd::Lost(format!(
            "port closed ({} unplugged?)",
            words.what
        ))),
        Ok(Some(Err(e))) => Err(SessionEnd::Lost(format!("read error: {e}"))),
        Ok(Some(Ok(item))) => Ok(item),
    }
}

/// Reports a frame error (noise, a damaged or unexpected frame) of device `id`; the session
/// ends only when nobody listens any more.
pub(crate) async fn report_frame_error(
    id: &Arc<str>,
    events: &mpsc::Sender<DeviceEvent>,
    message: String,
) -> Result<(), SessionEnd> {
    let event = DeviceEvent::FrameError {
        device: id.clone(),
        message,
    };
    events
        .send(event)
        .await
        .map_err(|_| SessionEnd::ChannelClosed)
}
