//! The response body: the inner service's, holding the request's
//! concurrency permit until it is finished or dropped, or the layer's own.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of every response of the layer: the inner service's body,
    /// which holds the request's concurrency permit (if any) until the body
    /// ends or is dropped, or a body the layer wrote itself (a 429).
    ///
    /// Data and errors are the inner body's: the layer adds no error type.
    pub struct RateLimitBody<B, P> {
        #[pin]
        kind: Kind<B, P>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B, P> {
        Inner {
            #[pin]
            body: B,
            permit: Option<P>,
        },
        Full {
            data: Option<Bytes>,
        },
    }
}

impl<B, P> RateLimitBody<B, P> {
    /// The inner body, holding `permit` until it ends or is dropped.
    pub fn inner(body: B, permit: Option<P>) -> Self {
        Self {
            kind: Kind::Inner { body, permit },
        }
    }

    /// A body of `data`.
    pub fn full(data: Bytes) -> Self {
        Self {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// Whether the body still holds a concurrency permit.
    pub fn holds_permit(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Inner {
                permit: Some(_),
                ..
            }
        )
    }
}

impl<B, P> std::fmt::Debug for RateLimitBody<B, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitBody")
            .field("holds_permit", &self.holds_permit())
            .finish_non_exhaustive()
    }
}

impl<B, P> Body for RateLimitBody<B, P>
where
    B: Body,
    B::Data: From<Bytes>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body, permit } => {
                let polled = body.poll_frame(cx);
                if let Poll::Ready(None) = polled {
                    // The body is over: free the place now, not at drop.
                    drop(permit.take());
                }
                polled
            }
            KindProj::Full { data } => Poll::Ready(
                data.take()
                    .map(|bytes| Ok(Frame::data(B::Data::from(bytes)))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body, .. } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body, .. } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
