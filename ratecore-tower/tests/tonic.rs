//! The layer in front of a tonic gRPC server, over HTTP/2 on 127.0.0.1: a
//! unary method (hand-written, no codegen: raw bytes echoed back) behind
//! `RateLimitLayer`, called by tonic's own client. The calls the plan
//! admits succeed with the `ratelimit` headers in their metadata; the next
//! one is refused by the layer in gRPC's terms (a Trailers-Only response),
//! which the client reads as `Code::ResourceExhausted` with the
//! `retry-after` and `ratelimit` headers as metadata. (A plain HTTP 429
//! with the problem+json body, as sent before, was read by tonic as a
//! malformed message: `Code::Internal`.)

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;

use bytes::{Buf, BufMut};
use common::clocks;
use ratecore_tower::{GlobalKey, Plan, Plans, Quota, RateLimitLayer};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// Messages are raw bytes: no protobuf needed to test the transport.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// The method: echoes its request.
struct Say;

impl UnaryService<Vec<u8>> for Say {
    type Response = Vec<u8>;
    type Future = Ready<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        ready(Ok(Response::new(request.into_inner())))
    }
}

/// The service `test.Echo`, its one method `Say`, as tonic's codegen would
/// route it.
#[derive(Clone)]
struct Echo;

impl NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Echo {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != "/test.Echo/Say" {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            Ok(Grpc::new(Raw).unary(Say, request).await)
        })
    }
}

const PER_MINUTE: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_grpc_method_gets_its_quota_then_resource_exhausted() {
    let mut plans = Plans::new();
    let plan = plans
        .add(Plan::new("grpc").limit("minute", Quota::per_minute(PER_MINUTE)))
        .unwrap();
    // Manual clocks: nothing comes back during the test.
    let (_mono, clock, wall) = clocks();
    let layer = RateLimitLayer::builder(plans, GlobalKey(plan))
        .clocks(clock, wall)
        .build()
        .unwrap();
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(Echo)
            .serve_with_incoming(incoming),
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Say");
    let mut call = async |message: &[u8]| {
        client.ready().await.unwrap();
        client
            .unary(Request::new(message.to_vec()), path.clone(), Raw)
            .await
    };

    for i in 0..PER_MINUTE {
        let message = format!("call {i}");
        let response = call(message.as_bytes()).await.unwrap();
        // The layer's headers reach a gRPC client as response metadata.
        let remaining = (PER_MINUTE - 1 - i).to_string();
        let ratelimit = response.metadata().get("ratelimit").unwrap();
        let ratelimit = ratelimit.to_str().unwrap();
        assert!(ratelimit.contains(&format!("r={remaining}")), "{ratelimit}");
        assert_eq!(response.into_inner(), message.as_bytes());
    }
    // The (N+1)-th call within the window: refused, with the wait.
    let refused = call(b"one too many").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let metadata = refused.metadata();
    // 3 per minute: one unit every 20 s, none back on the manual clock.
    assert_eq!(metadata.get("retry-after").unwrap(), "20");
    let ratelimit = metadata.get("ratelimit").unwrap().to_str().unwrap();
    assert!(ratelimit.contains("r=0"), "{ratelimit}");
}
