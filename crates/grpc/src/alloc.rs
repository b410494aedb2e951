//! The memory allocator of every posgate service: jemalloc, one arena, freed pages returned
//! within a second.
//!
//! Why: a payment service holding 10,000 payments in flight for a slow POS allocates and frees
//! small pieces from several threads (tokio's workers, sqlx's SQLite threads); glibc's malloc
//! gives each thread an arena of its own and keeps what one thread freed for that thread, so
//! its peak RSS was ~10 % above jemalloc's in the bench (`posgate bench --pos wsa-async
//! --count 10000 --concurrency 10000 --pos-latency-ms 5000`: 192–201 vs 185–189 MiB, same CPU
//! per payment, same throughput at 16 in flight). The settings (`narenas:1,dirty_decay_ms:1000,
//! muzzy_decay_ms:0`) are built in through `.cargo/config.toml`
//! (`JEMALLOC_SYS_WITH_MALLOC_CONF`); `_RJEM_MALLOC_CONF` in a service's environment overrides
//! them at run time.
//!
//! Each service binary says [`global_allocator!`](crate::global_allocator) once; libraries and
//! tests keep the system allocator. Not on MSVC, where jemalloc does not build.

#[cfg(not(target_env = "msvc"))]
#[doc(hidden)]
pub use tikv_jemallocator::Jemalloc;

/// Makes jemalloc (see [`crate::alloc`]) this binary's global allocator: one line at the top of
/// each service's `main.rs`.
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[cfg(not(target_env = "msvc"))]
        #[global_allocator]
        static GLOBAL: $crate::alloc::Jemalloc = $crate::alloc::Jemalloc;
    };
}
