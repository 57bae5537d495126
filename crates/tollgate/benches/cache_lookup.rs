//! The verified-token cache's lookup, moka against quick_cache, configured as tollgate would
//! configure each (docs/ARCHITECTURE.md, "Caches"; BENCHMARKS.md has the figures).
//!
//! Run with: `cargo bench -p tollgate --bench cache_lookup`.
//!
//! Both hold 10,000 entries under the same weight bound (32 MiB, each entry weighing at least
//! a 10,000th of it), keyed by 32-byte digests, with a value like the cache's entry (an `Arc`
//! and a 32-byte digest). moka is built as tollgate built it before quick_cache replaced it:
//! a weigher and a per-entry expiry (`expire_after`); quick_cache with its weighter and a hasher
//! that takes eight bytes of the digest. Measured: `get` of one hot key, and of 1,000 keys in
//! turn, in interleaved rounds timed by the thread's CPU clock; the median over rounds.

use std::hash::{BuildHasher, Hash, Hasher};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENTRIES: usize = 10_000;
const MAX_BYTES: u64 = 32 << 20;
const ROUNDS: usize = 30;
const LOOKUPS: usize = 200_000;
const ROTATING: usize = 1_000;

/// A digest key, hashed as tollgate's `TokenHash` is (eight of its bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key([u8; 32]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(word));
    }
}

/// An entry like the verified-token cache's.
#[derive(Clone)]
struct Value {
    info: Arc<[u8; 1024]>,
    live: Key,
}

#[derive(Clone, Copy, Default)]
struct KeyBits;

struct KeyBitsHasher(u64);

impl BuildHasher for KeyBits {
    type Hasher = KeyBitsHasher;
    fn build_hasher(&self) -> KeyBitsHasher {
        KeyBitsHasher(0)
    }
}

impl Hasher for KeyBitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, bits: u64) {
        self.0 = bits;
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<Key, Value> for Weigh {
    fn weight(&self, _: &Key, _: &Value) -> u64 {
        MAX_BYTES / ENTRIES as u64
    }
}

struct OneHour;

impl moka::Expiry<Key, Value> for OneHour {
    fn expire_after_create(&self, _: &Key, _: &Value, _: Instant) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }
}

fn key(i: usize) -> Key {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &i.to_le_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Key(out)
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let value = Value {
        info: Arc::new([7; 1024]),
        live: key(usize::MAX),
    };
    let moka: moka::sync::Cache<Key, Value> = moka::sync::Cache::builder()
        .max_capacity(MAX_BYTES)
        .weigher(|_, _| u32::try_from(MAX_BYTES / ENTRIES as u64).unwrap_or(u32::MAX))
        .expire_after(OneHour)
        .build();
    let quick: quick_cache::sync::Cache<Key, Value, Weigh, KeyBits> =
        quick_cache::sync::Cache::with(
            ENTRIES,
            MAX_BYTES,
            Weigh,
            KeyBits,
            quick_cache::sync::DefaultLifecycle::default(),
        );
    let keys: Vec<Key> = (0..ENTRIES).map(key).collect();
    for k in &keys {
        moka.insert(*k, value.clone());
        quick.insert(*k, value.clone());
    }
    moka.run_pending_tasks();
    let rotating = &keys[..ROTATING];
    for k in rotating {
        assert!(moka.get(k).is_some() && quick.get(k).is_some());
    }

    // What a hit uses of the entry: the `Arc` and the digest.
    type Lookup<'a> = Box<dyn Fn(&Key) -> Option<(u8, Key)> + 'a>;
    let caches: [(&str, Lookup<'_>); 2] = [
        (
            "moka 0.12 sync",
            Box::new(|k| moka.get(k).map(|v| (v.info[0], v.live))),
        ),
        (
            "quick_cache 0.7 sync",
            Box::new(|k| quick.get(k).map(|v| (v.info[0], v.live))),
        ),
    ];
    let mut hot = vec![Vec::new(); caches.len()];
    let mut turn = vec![Vec::new(); caches.len()];
    for _ in 0..ROUNDS {
        for (which, (_, get)) in caches.iter().enumerate() {
            let start = thread_cpu();
            for _ in 0..LOOKUPS {
                black_box(get(black_box(&rotating[0])));
            }
            hot[which].push((thread_cpu() - start).as_nanos() as f64 / LOOKUPS as f64);
            let start = thread_cpu();
            for i in 0..LOOKUPS {
                black_box(get(&rotating[i % ROTATING]));
            }
            turn[which].push((thread_cpu() - start).as_nanos() as f64 / LOOKUPS as f64);
        }
    }
    println!(
        "verified-token cache lookup, {ENTRIES} entries, {ROUNDS} interleaved rounds of {LOOKUPS} \
         lookups; median thread CPU time per lookup"
    );
    println!("| cache | one hot key | {ROTATING} keys in turn |");
    println!("|---|---:|---:|");
    for (which, (name, _)) in caches.iter().enumerate() {
        println!(
            "| {name} | {:.0} ns | {:.0} ns |",
            median(&mut hot[which]),
            median(&mut turn[which])
        );
    }
}
