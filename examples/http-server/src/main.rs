//! Runs the rate-limited API on 127.0.0.1.
//!
//! ```text
//! http-server [--port PORT] [--redis redis://127.0.0.1:6379/]
//! ```
//!
//! `--port` defaults to 3000 (0: any free port). The limits are kept in
//! memory unless `--redis URL` (or the `RATECORE_REDIS` environment
//! variable) names a Redis to share them in. The first line of standard
//! output is `listening on http://ADDRESS`.

use std::net::Ipv4Addr;

use ratecore_http_server::{Limits, serve};
use tokio::net::TcpListener;

const USAGE: &str = "usage: http-server [--port PORT] [--redis redis://HOST:PORT/]
  --port PORT    the port on 127.0.0.1 (default 3000; 0: any free port)
  --redis URL    keep the limits in this Redis, shared by every server
                 using it (default: the RATECORE_REDIS environment
                 variable, else in this process's memory)";

struct Args {
    port: u16,
    redis: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        port: 3000,
        redis: std::env::var("RATECORE_REDIS")
            .ok()
            .filter(|s| !s.is_empty()),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let port = value("--port")?;
                parsed.port = port
                    .parse()
                    .map_err(|e| format!("--port {port:?} is not a port: {e}"))?;
            }
            "--redis" => parsed.redis = Some(value("--redis")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("{why}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let limits = match args.redis {
        Some(url) => {
            println!("limits in Redis at {url}");
            Limits::Redis(url)
        }
        None => {
            println!("limits in memory");
            Limits::InMemory
        }
    };
    serve(listener, limits).await
}
