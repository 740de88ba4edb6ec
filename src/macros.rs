//! Crate-internal and exported macros.

/// Declares a `const fn` that loses its `const` under `cfg(loom)`.
///
/// loom's atomics cannot be built in a constant, so every constructor that
/// creates an atomic is `const` only in normal builds.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;

/// Declares an error enum of unit variants, each with its one-line message,
/// and its `message` (a `const fn`, so [`const_unwrap!`](crate::const_unwrap)
/// can make it the compile error), `Display` (the message) and `Error`:
///
/// ```text
/// error_enum! {
///     /// Why ... was refused.
///     #[derive(..)]
///     pub enum SomeError {
///         /// Docs of the variant.
///         Variant => "its message",
///     }
/// }
/// ```
macro_rules! error_enum {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_attr:meta])*
                $variant:ident => $message:literal,
            )*
        }
    ) => {
        $(#[$attr])*
        $vis enum $name {
            $(
                $(#[$variant_attr])*
                $variant,
            )*
        }

        impl $name {
            /// A one-line description, usable in `const` contexts (and so the
            /// compile error under [`const_unwrap!`](crate::const_unwrap)).
            pub const fn message(&self) -> &'static str {
                match self {
                    $(Self::$variant => $message,)*
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.message())
            }
        }

        impl core::error::Error for $name {}
    };
}
pub(crate) use error_enum;

/// Implements `defmt::Format`, only with the `defmt` feature, as one
/// `defmt::write!` of a format string and arguments read from `$this` (the
/// `self` of `format`):
///
/// ```text
/// defmt_format!(impl[const HZ: u64] for Clock<HZ> => |clock| "{=u64} ticks", clock.ticks());
/// ```
macro_rules! defmt_format {
    (
        $(#[$attr:meta])*
        impl[$($generics:tt)*] for $ty:ty => |$this:ident| $format:tt $(, $arg:expr)* $(,)?
    ) => {
        $(#[$attr])*
        #[cfg(feature = "defmt")]
        impl<$($generics)*> defmt::Format for $ty {
            fn format(&self, f: defmt::Formatter<'_>) {
                let $this = self;
                defmt::write!(f, $format $(, $arg)*);
            }
        }
    };
}
pub(crate) use defmt_format;

/// Items of a `WordLimiter<Config>` that forward to its configuration, each
/// written once with its docs (as fugit writes its forwarding methods):
///
/// - `const fn name(&self) -> T;` returns `self.algorithm().name()`;
/// - `const fn name(args..) -> Result<Self, QuotaError> = Config;` builds
///   `Config::name(args..)` and wraps it in a limiter with an empty word
///   (`const` except under loom, as [`const_fn!`]).
macro_rules! forward_config {
    () => {};
    (
        $(#[$attr:meta])*
        $vis:vis const fn $name:ident(&self) -> $ret:ty;
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        $vis const fn $name(&self) -> $ret {
            self.algorithm().$name()
        }
        $crate::macros::forward_config! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        $vis:vis const fn $name:ident($($arg:ident: $arg_ty:ty),* $(,)?)
            -> Result<Self, QuotaError> = $config:ident;
        $($rest:tt)*
    ) => {
        $crate::macros::const_fn! {
            $(#[$attr])*
            $vis const fn $name($($arg: $arg_ty),*) -> Result<Self, $crate::quota::QuotaError> {
                match $config::$name($($arg),*) {
                    Ok(config) => Ok(Self::from_algorithm(config)),
                    Err(e) => Err(e),
                }
            }
        }
        $crate::macros::forward_config! { $($rest)* }
    };
}
pub(crate) use forward_config;

/// The items every GCRA limiter (`WordLimiter<$config>`, where `$config` has
/// `new`, `burst`, `emission_interval` and `horizon`: `Gcra` and
/// `PackedGcra`) forwards to its configuration, with their docs.
macro_rules! forward_gcra_config {
    ($config:ident) => {
        $crate::macros::forward_config! {
            /// A full limiter for `quota`, in ticks of `1 / HZ` seconds.
            ///
            /// # Errors
            ///
            /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
            pub const fn new(quota: Quota) -> Result<Self, QuotaError> = $config;

            /// The burst: the most units admitted at one instant.
            pub const fn burst(&self) -> u32;

            /// The emission interval `T` as `(units, scale)`: one admitted unit costs
            /// `units / scale` ticks, exactly.
            pub const fn emission_interval(&self) -> (u64, u64);

            /// The last instant evaluated as itself; later ones are evaluated as this one.
            pub const fn horizon(&self) -> Instant<HZ>;
        }
    };
}
pub(crate) use forward_gcra_config;

/// The items every window limiter (`WordLimiter<$config>`, where `$config`
/// has `new`, `with_epoch`, `limit`, `window` and `horizon`) forwards to its
/// configuration, with their docs.
macro_rules! forward_window_config {
    ($config:ident) => {
        $crate::macros::forward_config! {
            #[doc = concat!(
                "An empty limiter for `quota` with windows aligned to tick 0: see\n[`",
                stringify!($config), "::new`].\n\n# Errors\n\nAs [`",
                stringify!($config), "::new`]."
            )]
            pub const fn new(quota: Quota) -> Result<Self, QuotaError> = $config;

            #[doc = concat!(
                "An empty limiter for `quota` with a window boundary at `epoch`: see\n[`",
                stringify!($config), "::with_epoch`].\n\n# Errors\n\nAs [`",
                stringify!($config), "::new`]."
            )]
            pub const fn with_epoch(quota: Quota, epoch: Instant<HZ>) -> Result<Self, QuotaError>
                = $config;

            /// The most units admitted per window (the quota's count).
            pub const fn limit(&self) -> u32;

            /// The window length `W`.
            pub const fn window(&self) -> Duration<HZ>;

            /// The start of the last window the state can number; later instants are
            /// evaluated as this one.
            pub const fn horizon(&self) -> Instant<HZ>;
        }
    };
}
pub(crate) use forward_window_config;

/// Implements `Algorithm<HZ>` for a type that stands for an algorithm (a
/// reference to one, a limiter holding one), forwarding every method, the
/// provided ones included (an algorithm's own `decider`, `is_idle` or
/// `reserve` is kept; `tests/forwarding.rs` checks `decider`),
/// to the algorithm `$inner` reaches from `$this` (the `self` of each method).
/// `A` is the algorithm's type (`A: ?Sized` relaxes its bound).
macro_rules! forward_algorithm {
    (
        $(#[$attr:meta])*
        impl<A $(: ?$sized:ident)?> for $ty:ty => |$this:ident| $inner:expr
    ) => {
        // In a block of its own, for the short names of the signatures.
        const _: () = {
            use $crate::answer::Status;
            use $crate::kernel::{Algorithm, Booking, Step};
            use $crate::time::{Duration, Instant};

            $(#[$attr])*
            impl<const HZ: u64, A: Algorithm<HZ> $(+ ?$sized)?> Algorithm<HZ> for $ty {
                const NAME: &'static str = A::NAME;
                const GUARDS_MEMORY: bool = A::GUARDS_MEMORY;

                #[inline(always)]
                fn fingerprint(&self) -> u64 {
                    let $this = self;
                    $inner.fingerprint()
                }

                #[inline(always)]
                fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
                    let $this = self;
                    $inner.decide(state, n, now)
                }

                #[inline(always)]
                fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
                    let $this = self;
                    $inner.decider(n, now)
                }

                #[inline(always)]
                fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
                    let $this = self;
                    $inner.status(state, now)
                }

                #[inline(always)]
                fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
                    let $this = self;
                    $inner.refund(state, n, now)
                }

                #[inline(always)]
                fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
                    let $this = self;
                    $inner.idle_after(state, now)
                }

                #[inline(always)]
                fn is_idle(&self, state: u64, now: Instant<HZ>) -> bool {
                    let $this = self;
                    $inner.is_idle(state, now)
                }

                #[inline(always)]
                fn idleness(&self, now: Instant<HZ>) -> impl Fn(u64) -> bool {
                    let $this = self;
                    $inner.idleness(now)
                }

                #[inline(always)]
                fn reserve(
                    &self, state: u64, n: u32, now: Instant<HZ>, max_wait: Duration<HZ>,
                ) -> Booking<HZ> {
                    let $this = self;
                    $inner.reserve(state, n, now, max_wait)
                }

                #[inline(always)]
                fn take_back(&self, state: u64, n: u32, at: Instant<HZ>) -> Option<u64> {
                    let $this = self;
                    $inner.take_back(state, n, at)
                }
            }
        };
    };
}
pub(crate) use forward_algorithm;

/// Unwraps a `Result` in a constant context, turning an `Err` into a compile error.
///
/// The expansion is an inline `const { .. }` block, so the check runs while the
/// *caller's* crate compiles: an invalid quota in a `static` or `const` never
/// reaches the binary, and nothing here can panic at run time. The error's
/// [`message`](crate::QuotaError::message) is the compiler's diagnostic.
///
/// ```
/// use ratecore::{Gcra, Quota};
///
/// static API: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)));
/// assert_eq!(API.burst(), 120);
/// ```
///
/// A zero rate does not compile:
///
/// ```compile_fail
/// use ratecore::{Gcra, Quota};
///
/// static BROKEN: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(0)));
/// ```
#[macro_export]
macro_rules! const_unwrap {
    ($result:expr) => {
        const {
            match $result {
                ::core::result::Result::Ok(value) => value,
                // Compile-time only: this arm is evaluated by the compiler inside `const`.
                ::core::result::Result::Err(error) => ::core::panic!("{}", error.message()),
            }
        }
    };
}
