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
