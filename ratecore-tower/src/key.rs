//! Keys: who a request is charged to, under which plan, at what cost.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use http::header::{FORWARDED, HeaderName};
use http::{Extensions, HeaderMap, Method, Uri};

use crate::plan::PlanId;

/// Who a request is charged to.
///
/// Cheap to clone (no allocation): an application's account name is an
/// `Arc<str>` shared with its key store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Key {
    /// Every request together ([`GlobalKey`]).
    Global,
    /// Requests with no key, sharing one anonymous quota
    /// ([`KeyExtractorExt::or_anonymous`]).
    Anonymous,
    /// A client address, already grouped by its prefix (`2001:db8:1:2::/64`
    /// is stored as `2001:db8:1:2::`).
    Ip(IpAddr),
    /// An application's numeric account id.
    Id(u64),
    /// An application's account name.
    Name(Arc<str>),
}

impl fmt::Display for Key {
    /// A stable text form, for logs and remote stores: `global`, `anonymous`,
    /// `ip:<addr>`, `id:<n>`, `name:<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::Ip(ip) => write!(f, "ip:{ip}"),
            Self::Id(id) => write!(f, "id:{id}"),
            Self::Name(name) => write!(f, "name:{name}"),
        }
    }
}

/// What a key extractor found: the key, its plan and the request's cost
/// (for limits that count cost, [`Meter::Cost`](crate::Meter::Cost)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    /// Who the request is charged to.
    pub key: Key,
    /// Under which plan.
    pub plan: PlanId,
    /// The request's cost in the units of the plan's cost limits (and its
    /// per-request cap).
    pub cost: u32,
}

impl Extracted {
    /// `key` under `plan`, costing nothing beyond the request itself.
    pub fn new(key: Key, plan: PlanId) -> Self {
        Self { key, plan, cost: 0 }
    }
}

/// Why a request has no key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoKey {
    /// The request carries no key (no header, no peer address): answered
    /// with the layer's [`no_key_status`](crate::Builder::no_key_status)
    /// (401 by default), or an anonymous quota
    /// ([`KeyExtractorExt::or_anonymous`]).
    Missing,
    /// The request carries a key that is malformed or unknown: always
    /// answered `401 Unauthorized`.
    Invalid,
}

/// The parts of a request a key extractor reads: no body, and no type
/// parameter, so that extractors are plain objects.
#[derive(Clone, Copy, Debug)]
pub struct RequestInfo<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target.
    pub uri: &'a Uri,
    /// The header fields.
    pub headers: &'a HeaderMap,
    /// The extensions (connection information such as [`PeerAddr`]).
    pub extensions: &'a Extensions,
    /// The body's exact length if known (`Content-Length`, or a body of
    /// known size), `None` for a streamed body of unknown length.
    pub body_len: Option<u64>,
}

impl<'a> RequestInfo<'a> {
    /// The view of `request`.
    pub fn new<B: http_body::Body>(request: &'a http::Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
            body_len: http_body::Body::size_hint(request.body()).exact(),
        }
    }

    /// The body's length as a cost: its exact length, saturated at
    /// `u32::MAX`; `u32::MAX` for a body of unknown length, so that any
    /// per-request cap refuses a streamed body it cannot measure.
    pub fn body_len_cost(&self) -> u32 {
        self.body_len
            .map_or(u32::MAX, |len| u32::try_from(len).unwrap_or(u32::MAX))
    }

    /// The peer's address: a [`PeerAddr`] or `SocketAddr` extension, or
    /// (with the `axum` feature) axum's `ConnectInfo<SocketAddr>`.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        if let Some(PeerAddr(addr)) = self.extensions.get::<PeerAddr>() {
            return Some(*addr);
        }
        if let Some(addr) = self.extensions.get::<SocketAddr>() {
            return Some(*addr);
        }
        #[cfg(feature = "axum")]
        if let Some(info) = self
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return Some(info.0);
        }
        None
    }
}

/// The peer's address as a request extension, for servers other than axum
/// (insert it per connection; axum's `ConnectInfo<SocketAddr>` is read too
/// with the `axum` feature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// Finds a request's key, plan and cost. Called once per request, before the
/// inner service; it must not panic on any input.
///
/// Closures `Fn(&RequestInfo) -> Result<Extracted, NoKey>` are extractors.
pub trait KeyExtractor: Send + Sync + 'static {
    /// The request's key, plan and cost.
    ///
    /// # Errors
    ///
    /// [`NoKey`] when the request has no usable key.
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey>;
}

/// Combinators on every [`KeyExtractor`].
pub trait KeyExtractorExt: KeyExtractor + Sized {
    /// This extractor, with the request's cost set by `cost`.
    fn with_cost<F>(self, cost: F) -> WithCost<Self, F>
    where
        F: Fn(&RequestInfo<'_>) -> u32 + Send + Sync + 'static,
    {
        WithCost { inner: self, cost }
    }

    /// This extractor, with the body's length as the request's cost (see
    /// [`RequestInfo::body_len_cost`]).
    fn with_body_len_cost(self) -> WithCost<Self, fn(&RequestInfo<'_>) -> u32> {
        WithCost {
            inner: self,
            cost: |request: &RequestInfo<'_>| request.body_len_cost(),
        }
    }

    /// This extractor, with requests that carry no key ([`NoKey::Missing`])
    /// sharing one anonymous quota ([`Key::Anonymous`]) under `plan`,
    /// instead of being refused. Invalid keys are still refused.
    fn or_anonymous(self, plan: PlanId) -> OrAnonymous<Self> {
        OrAnonymous { inner: self, plan }
    }
}

impl<E: KeyExtractor> KeyExtractorExt for E {}

/// An extractor whose keyless requests share an anonymous quota
/// ([`KeyExtractorExt::or_anonymous`]).
#[derive(Clone, Debug)]
pub struct OrAnonymous<E> {
    inner: E,
    plan: PlanId,
}

impl<E: KeyExtractor> KeyExtractor for OrAnonymous<E> {
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        match self.inner.extract(request) {
            Err(NoKey::Missing) => Ok(Extracted::new(Key::Anonymous, self.plan)),
            other => other,
        }
    }
}

impl<F> KeyExtractor for F
where
    F: Fn(&RequestInfo<'_>) -> Result<Extracted, NoKey> + Send + Sync + 'static,
{
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        self(request)
    }
}

/// An extractor whose cost is computed by a function
/// ([`KeyExtractorExt::with_cost`]).
#[derive(Clone, Debug)]
pub struct WithCost<E, F> {
    inner: E,
    cost: F,
}

impl<E, F> KeyExtractor for WithCost<E, F>
where
    E: KeyExtractor,
    F: Fn(&RequestInfo<'_>) -> u32 + Send + Sync + 'static,
{
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        let mut extracted = self.inner.extract(request)?;
        extracted.cost = (self.cost)(request);
        Ok(extracted)
    }
}

/// Every request under one key ([`Key::Global`]): a limit on the whole
/// service.
#[derive(Clone, Copy, Debug)]
pub struct GlobalKey(pub PlanId);

impl KeyExtractor for GlobalKey {
    fn extract(&self, _: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        Ok(Extracted::new(Key::Global, self.0))
    }
}

/// An API key in a header (`x-api-key`), looked up in the application's key
/// store: a function from the key to its account and plan, `None` for an
/// unknown key.
///
/// A missing header is [`NoKey::Missing`]; a value that is not visible
/// ASCII, longer than 256 bytes, or unknown to the store is
/// [`NoKey::Invalid`].
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use ratecore_tower::{ApiKeyHeader, Key, Plan, Plans, Quota};
///
/// let mut plans = Plans::new();
/// let free = plans.add(Plan::new("free").limit("free-minute", Quota::per_minute(5)))?;
/// let accounts: HashMap<String, (Key, _)> =
///     HashMap::from([("k-123".into(), (Key::Name(Arc::from("alice")), free))]);
/// let extractor = ApiKeyHeader::new("x-api-key", move |key| accounts.get(key).cloned());
/// # let _ = extractor;
/// # Ok::<(), ratecore_tower::ConfigError>(())
/// ```
pub struct ApiKeyHeader<F> {
    header: HeaderName,
    lookup: F,
}

impl<F> ApiKeyHeader<F>
where
    F: Fn(&str) -> Option<(Key, PlanId)> + Send + Sync + 'static,
{
    /// Keys in the header `name` (lower case, such as `"x-api-key"`; a name
    /// that is not a valid header name falls back to `x-api-key`), looked up
    /// with `lookup`.
    pub fn new(name: &str, lookup: F) -> Self {
        let header = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| HeaderName::from_static("x-api-key"));
        Self { header, lookup }
    }
}

impl<F> fmt::Debug for ApiKeyHeader<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyHeader")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<F> KeyExtractor for ApiKeyHeader<F>
where
    F: Fn(&str) -> Option<(Key, PlanId)> + Send + Sync + 'static,
{
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        let Some(value) = request.headers.get(&self.header) else {
            return Err(NoKey::Missing);
        };
        let key = value.to_str().map_err(|_| NoKey::Invalid)?.trim();
        if key.is_empty() || key.len() > 256 {
            return Err(NoKey::Invalid);
        }
        let (key, plan) = (self.lookup)(key).ok_or(NoKey::Invalid)?;
        Ok(Extracted::new(key, plan))
    }
}

/// Prefix lengths by which client addresses are grouped into one key: an
/// IPv6 client usually controls a whole /64, so counting single addresses
/// would give it 2^64 quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefixes {
    /// IPv4 prefix length, 0 to 32 (default 32: one address).
    pub v4: u8,
    /// IPv6 prefix length, 0 to 128 (default 64).
    pub v6: u8,
}

impl Default for Prefixes {
    fn default() -> Self {
        Self { v4: 32, v6: 64 }
    }
}

impl Prefixes {
    /// `ip` reduced to its group's key: the address with the bits past the
    /// prefix cleared. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as
    /// IPv4.
    pub fn group(&self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(mask32(u32::from(v4), self.v4))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask128(u128::from(v6), self.v6))),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask32(bits: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => bits,
        p => bits & (u32::MAX << (32 - u32::from(p))),
    }
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => bits,
        p => bits & (u128::MAX << (128 - u32::from(p))),
    }
}

/// The peer's address as the key, IPv6 grouped by prefix (/64 by default).
/// A request with no peer address (see [`RequestInfo::peer_addr`]) is
/// [`NoKey::Missing`].
#[derive(Clone, Copy, Debug)]
pub struct PeerIp {
    plan: PlanId,
    prefixes: Prefixes,
}

impl PeerIp {
    /// Peers under `plan`, grouped by the default [`Prefixes`].
    pub fn new(plan: PlanId) -> Self {
        Self {
            plan,
            prefixes: Prefixes::default(),
        }
    }

    /// The same, grouped by `prefixes`.
    #[must_use]
    pub fn prefixes(self, prefixes: Prefixes) -> Self {
        Self { prefixes, ..self }
    }
}

impl KeyExtractor for PeerIp {
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        let peer = request.peer_addr().ok_or(NoKey::Missing)?;
        let key = Key::Ip(self.prefixes.group(peer.ip()));
        Ok(Extracted::new(key, self.plan))
    }
}

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The block of `addr` with `prefix` bits (clamped to the family's width).
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        let addr = canonical(addr);
        let prefix = match addr {
            IpAddr::V4(_) => prefix.min(32),
            IpAddr::V6(_) => prefix.min(128),
        };
        Self { addr, prefix }
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(net), self.prefix) == mask32(u32::from(ip), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(net), self.prefix) == mask128(u128::from(ip), self.prefix)
            }
            _ => false,
        }
    }
}

impl From<IpAddr> for Cidr {
    fn from(addr: IpAddr) -> Self {
        Self::new(addr, 128)
    }
}

/// A text that is not an address block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CidrError;

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an address or address block (such as 10.0.0.0/8)")
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        match s.split_once('/') {
            None => s.parse::<IpAddr>().map(Cidr::from).map_err(|_| CidrError),
            Some((addr, prefix)) => {
                let addr = addr.parse::<IpAddr>().map_err(|_| CidrError)?;
                let prefix = prefix.parse::<u8>().map_err(|_| CidrError)?;
                let width = if addr.is_ipv4() { 32 } else { 128 };
                if prefix > width {
                    return Err(CidrError);
                }
                Ok(Cidr::new(addr, prefix))
            }
        }
    }
}

/// Which header carries the chain of client addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The client's address behind trusted reverse proxies, IPv6 grouped by
/// prefix.
///
/// The chain is read from the RIGHT: the peer first, then each forwarded
/// entry from the last to the first, skipping addresses that belong to the
/// trusted proxies; the first untrusted address is the client. Entries to
/// its left were written by the client itself and are ignored, so a client
/// cannot choose its key by sending `X-Forwarded-For`. A peer that is not a
/// trusted proxy is the client whatever the headers say. A malformed entry
/// stops the walk at the last trusted hop, which then stands for the client
/// (stricter, never spoofable). With no peer address the request is
/// [`NoKey::Missing`].
#[derive(Clone, Debug)]
pub struct ForwardedIp {
    plan: PlanId,
    trusted: Arc<[Cidr]>,
    header: ForwardedHeader,
    prefixes: Prefixes,
}

impl ForwardedIp {
    /// Clients under `plan`, behind the proxies in `trusted`, named in
    /// `X-Forwarded-For`.
    pub fn new(plan: PlanId, trusted: impl IntoIterator<Item = Cidr>) -> Self {
        Self {
            plan,
            trusted: trusted.into_iter().collect(),
            header: ForwardedHeader::XForwardedFor,
            prefixes: Prefixes::default(),
        }
    }

    /// The same, reading `header`.
    #[must_use]
    pub fn header(self, header: ForwardedHeader) -> Self {
        Self { header, ..self }
    }

    /// The same, grouped by `prefixes`.
    #[must_use]
    pub fn prefixes(self, prefixes: Prefixes) -> Self {
        Self { prefixes, ..self }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.is_trusted(client) {
            return client;
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => FORWARDED,
        };
        // Several header lines form one list, in order: walk lines and their
        // entries from the right.
        for line in headers.get_all(&name).iter().rev() {
            let Ok(line) = line.to_str() else {
                return client;
            };
            for entry in line.rsplit(',') {
                let parsed = match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(entry),
                    ForwardedHeader::Forwarded => forwarded_for(entry).and_then(parse_node),
                };
                let Some(ip) = parsed else {
                    return client;
                };
                client = ip;
                if !self.is_trusted(ip) {
                    return client;
                }
            }
        }
        client
    }
}

impl KeyExtractor for ForwardedIp {
    fn extract(&self, request: &RequestInfo<'_>) -> Result<Extracted, NoKey> {
        let peer = request.peer_addr().ok_or(NoKey::Missing)?;
        let client = self.client(peer.ip(), request.headers);
        Ok(Extracted::new(
            Key::Ip(self.prefixes.group(client)),
            self.plan,
        ))
    }
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })
}

/// An address from a forwarded node: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:80`, optionally quoted. Obfuscated and `unknown` nodes are
/// not addresses.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let node = node
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(node);
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (addr, _) = rest.split_once(']')?;
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    node.parse::<SocketAddr>().ok().map(|addr| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn groups_ipv6_by_prefix() {
        let p = Prefixes::default();
        assert_eq!(p.group(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(p.group(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        let p48 = Prefixes { v4: 24, v6: 48 };
        assert_eq!(p48.group(ip("2001:db8:1:2::1")), ip("2001:db8:1::"));
        assert_eq!(p48.group(ip("192.0.2.7")), ip("192.0.2.0"));
        let zero = Prefixes { v4: 0, v6: 0 };
        assert_eq!(zero.group(ip("192.0.2.7")), ip("0.0.0.0"));
    }

    #[test]
    fn cidr_parses_and_contains() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")) && !net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
        let one: Cidr = "2001:db8::1".parse().unwrap();
        assert!(one.contains(ip("2001:db8::1")) && !one.contains(ip("2001:db8::2")));
    }

    #[test]
    fn forwarded_chain_is_read_from_the_right() {
        let x = ForwardedIp::new(PlanId(0), ["10.0.0.0/8".parse().unwrap()]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        // Through two trusted hops to the client; the spoofed left entry is ignored.
        assert_eq!(x.client(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // An untrusted peer is the client.
        assert_eq!(x.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // Malformed: the last trusted hop stands for the client.
        h.insert("x-forwarded-for", "203.0.113.9, garbage".parse().unwrap());
        assert_eq!(x.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // Forwarded, with ports, brackets and quotes.
        let f = x.clone().header(ForwardedHeader::Forwarded);
        let mut h = HeaderMap::new();
        h.append("forwarded", "for=6.6.6.6".parse().unwrap());
        h.append(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3:80"
                .parse()
                .unwrap(),
        );
        assert_eq!(f.client(ip("10.0.0.1"), &h), ip("2001:db8::7"));
    }
}
