//! Runs the rate-limited API on 127.0.0.1.
//!
//! The port comes from `RATECORE_PORT` (default 0: an ephemeral port); the
//! bound address is printed on the first line of standard output.
//!
//! ```text
//! cargo run --manifest-path examples/http-server/Cargo.toml
//! curl -i -H 'x-api-key: demo-free-key-1' http://127.0.0.1:PORT/
//! ```

use std::net::Ipv4Addr;
use std::sync::Arc;

use ratecore::clock::{MonotonicClock, WallClock};
use ratecore_http_server::{AppState, MS, app};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("RATECORE_PORT") {
        Ok(port) => port
            .parse()
            .map_err(|e| format!("RATECORE_PORT={port:?} is not a port: {e}"))?,
        Err(_) => 0,
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let state = AppState::new(Arc::new(MonotonicClock::<MS>::new()), Arc::new(WallClock));
    axum::serve(listener, app(state)).await?;
    Ok(())
}
