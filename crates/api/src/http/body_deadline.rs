//! A request body must arrive within a deadline: a client trickling one byte a second would otherwise
//! hold a connection (and a worker's attention) for as long as it likes. The WebSocket's stream is not
//! a request body and is left alone (it has its own idle timeout).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{self, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage};
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;
use tokio::time::Sleep;

/// How long a request body may take to arrive.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Bounds the arrival of every request body but the WebSocket's.
pub fn body_deadline<S, B>(
    mut req: ServiceRequest,
    service: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
{
    if req.path() != "/ws" {
        let payload = req.take_payload();
        let bounded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(Deadline { inner: payload, sleep: Box::pin(tokio::time::sleep(BODY_DEADLINE)), done: false });
        req.set_payload(dev::Payload::from(bounded));
    }
    Box::pin(service.call(req))
}

struct Deadline {
    inner: dev::Payload,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.done = true;
            let late = io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive in time");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        Poll::Pending
    }
}
