//! Every signature shape `#[retry]` must accept unchanged, and the body semantics it promises:
//! `?` and `return` end the attempt, by-value arguments are fresh for every attempt, `&mut`
//! arguments and `&mut self` accumulate, patterns, generics, lifetimes, `impl Trait` arguments,
//! methods, `async fn` in trait impls, `Result` aliases, kept attributes and `Send` futures.
#![deny(non_snake_case)]

use std::fmt::{self, Display};
use std::num::ParseIntError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use retry_runtime::retry;

/// Compiles only for `Send` values.
fn assert_send<T: Send>(_: &T) {}

// ---- `?` and `return` -----------------------------------------------------------------------

/// retrying and retryable let `?` leave the whole function instead of the attempt.
#[retry(attempts = 4, base = "1ms")]
async fn question_mark(calls: &mut u32, input: &str) -> Result<u32, ParseIntError> {
    *calls += 1;
    let n: u32 = if *calls < 3 {
        "x".parse()?
    } else {
        input.parse()?
    };
    Ok(n * 10 + *calls)
}

#[retry(attempts = 5, base = "1ms")]
async fn early_return(calls: &mut u32) -> Result<u32, String> {
    *calls += 1;
    if *calls < 4 {
        return Err(format!("attempt {calls}"));
    }
    Ok(*calls)
}

#[retry(attempts = 5, base = "1ms")]
async fn early_return_ok(calls: &mut u32) -> Result<&'static str, String> {
    *calls += 1;
    if *calls == 2 {
        return Ok("returned early");
    }
    Err("fell through".to_string())
}

#[derive(Debug, PartialEq)]
enum MyErr {
    Parse,
    Other(u32),
}

impl From<ParseIntError> for MyErr {
    fn from(_: ParseIntError) -> Self {
        MyErr::Parse
    }
}

/// `?` converts through `From` into the function's error type, then the attempt is retried.
#[retry(attempts = 3, base = "1ms")]
async fn question_mark_converts(calls: &mut u32) -> Result<u32, MyErr> {
    *calls += 1;
    let n: u32 = "not a number".parse()?;
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn question_mark_and_return_end_the_attempt_not_the_call() {
    let mut calls = 0;
    assert_eq!(question_mark(&mut calls, "7").await, Ok(73));
    assert_eq!(calls, 3);

    let mut calls = 0;
    assert!(question_mark(&mut calls, "nope").await.is_err());
    assert_eq!(calls, 4);

    let mut calls = 0;
    assert_eq!(early_return(&mut calls).await, Ok(4));
    assert_eq!(calls, 4);

    let mut calls = 0;
    assert_eq!(early_return_ok(&mut calls).await, Ok("returned early"));
    assert_eq!(calls, 2);

    let mut calls = 0;
    assert_eq!(question_mark_converts(&mut calls).await, Err(MyErr::Parse));
    assert_eq!(calls, 3);
}

#[retry(attempts = 3, base = "0ms")]
fn sync_question_mark(calls: &mut u32) -> Result<u32, MyErr> {
    *calls += 1;
    let n: u32 = if *calls < 3 {
        "x".parse()?
    } else {
        "5".parse()?
    };
    Ok(n)
}

#[retry(attempts = 3, base = "0ms")]
fn sync_early_return(calls: &mut u32) -> Result<u32, MyErr> {
    *calls += 1;
    if *calls < 3 {
        return Err(MyErr::Other(*calls));
    }
    Ok(*calls)
}

#[test]
fn sync_question_mark_and_return_end_the_attempt() {
    let mut calls = 0;
    assert_eq!(sync_question_mark(&mut calls), Ok(5));
    assert_eq!(calls, 3);
    let mut calls = 0;
    assert_eq!(sync_early_return(&mut calls), Ok(3));
    assert_eq!(calls, 3);
}

// ---- by-value and `&mut` arguments ----------------------------------------------------------

/// Each attempt gets its own copy of `items` and `label`: the pushes of one attempt are not
/// seen by the next.
#[retry(attempts = 3, base = "1ms")]
async fn by_value(
    mut items: Vec<u32>,
    mut label: String,
    seen: &mut Vec<(Vec<u32>, String)>,
) -> Result<(), usize> {
    items.push(seen.len() as u32);
    label.push('!');
    seen.push((items, label));
    Err(seen.len())
}

#[tokio::test(start_paused = true)]
async fn by_value_arguments_are_fresh_for_every_attempt() {
    let mut seen = Vec::new();
    assert_eq!(by_value(vec![7], "hi".into(), &mut seen).await, Err(3));
    assert_eq!(
        seen,
        [
            (vec![7, 0], "hi!".to_string()),
            (vec![7, 1], "hi!".to_string()),
            (vec![7, 2], "hi!".to_string()),
        ]
    );
}

/// Counts how often it is cloned, to prove a copy is made for the attempts.
#[derive(Debug)]
struct Tracked {
    clones: Arc<AtomicU32>,
    value: u32,
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Tracked {
            clones: Arc::clone(&self.clones),
            value: self.value,
        }
    }
}

#[retry(attempts = 4, base = "1ms")]
async fn consumes(mut t: Tracked, values: &mut Vec<u32>) -> Result<(), ()> {
    t.value += 1;
    values.push(t.value);
    drop(t);
    Err(())
}

#[tokio::test(start_paused = true)]
async fn a_consumed_by_value_argument_can_be_retried() {
    let clones = Arc::new(AtomicU32::new(0));
    let t = Tracked {
        clones: Arc::clone(&clones),
        value: 10,
    };
    let mut values = Vec::new();
    assert_eq!(consumes(t, &mut values).await, Err(()));
    assert_eq!(values, [11, 11, 11, 11]);
    // At least one copy per retry (the last attempt may move the original instead).
    let n = clones.load(Ordering::SeqCst);
    assert!((3..=4).contains(&n), "cloned {n} times");
}

#[retry(attempts = 3, base = "1ms")]
async fn accumulates(log: &mut Vec<u32>, total: &mut u64) -> Result<u64, usize> {
    log.push(log.len() as u32);
    *total += 10;
    if log.len() < 3 {
        Err(log.len())
    } else {
        Ok(*total)
    }
}

#[tokio::test(start_paused = true)]
async fn mut_reference_mutations_accumulate_across_attempts() {
    let mut log = vec![];
    let mut total = 5;
    assert_eq!(accumulates(&mut log, &mut total).await, Ok(35));
    assert_eq!(log, [0, 1, 2]);
    assert_eq!(total, 35);
}

// ---- receivers and methods ------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Service {
    hits: u32,
    shared: Arc<AtomicU32>,
}

impl Service {
    const LIMIT: u32 = 3;

    fn helper(n: u32) -> u32 {
        n * 100
    }

    #[retry(attempts = 5, base = "1ms")]
    async fn by_ref(&self, add: u32) -> Result<u32, u32> {
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < Self::LIMIT {
            Err(n)
        } else {
            Ok(Self::helper(n) + add + self.hits)
        }
    }

    /// `&mut self`: changes made by one attempt are seen by the next (backon-macros could not
    /// retry it at all).
    #[retry(attempts = 5, base = "1ms")]
    async fn by_mut(&mut self) -> Result<u32, u32> {
        self.hits += 1;
        if self.hits < 4 {
            Err(self.hits)
        } else {
            Ok(self.hits)
        }
    }

    /// `self` by value: each attempt works on its own clone.
    #[retry(attempts = 3, base = "1ms")]
    async fn by_value(mut self) -> Result<Self, u32> {
        self.hits += 1;
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(self.hits)
        } else {
            Ok(self)
        }
    }

    #[allow(clippy::needless_arbitrary_self_type)] // the typed receiver is what is tested
    #[retry(attempts = 3, base = "1ms")]
    async fn typed_ref(self: &Self) -> Result<u32, u32> {
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 2 {
            Err(n)
        } else {
            Ok(n)
        }
    }

    #[allow(clippy::needless_arbitrary_self_type)] // the typed receiver is what is tested
    #[retry(attempts = 3, base = "1ms")]
    async fn typed_mut(self: &mut Self) -> Result<u32, u32> {
        self.hits += 2;
        if self.hits < 6 {
            Err(self.hits)
        } else {
            Ok(self.hits)
        }
    }

    #[retry(attempts = 3, base = "1ms")]
    async fn arc_self(self: Arc<Self>) -> Result<u32, u32> {
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(n)
        } else {
            Ok(n)
        }
    }

    /// `self` captured by a closure and a nested block inside the body.
    #[retry(attempts = 3, base = "1ms")]
    async fn self_in_closure(&mut self) -> Result<u32, u32> {
        let read = |s: &Self| s.hits;
        {
            self.hits += 1;
        }
        let hits = read(self);
        if hits < 3 {
            Err(hits)
        } else {
            Ok(hits)
        }
    }

    #[retry(attempts = 4, base = "0ms")]
    fn sync_by_mut(&mut self) -> Result<u32, u32> {
        self.hits += 1;
        if self.hits < 4 {
            Err(self.hits)
        } else {
            Ok(self.hits)
        }
    }

    #[retry(attempts = 3, base = "0ms")]
    fn sync_by_value(mut self) -> Result<u32, u32> {
        self.hits += 1;
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(n)
        } else {
            Ok(self.hits)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn receivers_work_in_impl_blocks() {
    let svc = Service::default();
    assert_eq!(svc.by_ref(5).await, Ok(305));

    let mut svc = Service::default();
    assert_eq!(svc.by_mut().await, Ok(4));
    assert_eq!(svc.hits, 4);

    let svc = Service {
        hits: 10,
        ..Service::default()
    };
    let done = svc.by_value().await.unwrap();
    // Every attempt started again from the caller's `hits = 10`.
    assert_eq!(done.hits, 11);
    assert_eq!(done.shared.load(Ordering::SeqCst), 3);

    let svc = Service::default();
    assert_eq!(svc.typed_ref().await, Ok(2));

    let mut svc = Service::default();
    assert_eq!(svc.typed_mut().await, Ok(6));
    assert_eq!(svc.hits, 6);

    let svc = Arc::new(Service::default());
    assert_eq!(Arc::clone(&svc).arc_self().await, Ok(3));

    let mut svc = Service::default();
    assert_eq!(svc.self_in_closure().await, Ok(3));
}

#[test]
fn sync_receivers() {
    let mut svc = Service::default();
    assert_eq!(svc.sync_by_mut(), Ok(4));
    assert_eq!(svc.hits, 4);

    let svc = Service {
        hits: 1,
        ..Service::default()
    };
    assert_eq!(svc.clone().sync_by_value(), Ok(2));
    assert_eq!(svc.shared.load(Ordering::SeqCst), 3);
}

// ---- patterns -------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Point {
    x: i32,
    y: i32,
}

#[retry(attempts = 3, base = "1ms")]
async fn patterns(
    (a, b): (u8, u8),
    mut x: u32,
    Point { x: px, y: py }: Point,
    [first, .., last]: [u8; 4],
    _: u8,
    calls: &mut Vec<u32>,
) -> Result<u32, u32> {
    x += 1;
    calls.push(x);
    let sum = u32::from(a) + u32::from(b) + x + (px + py) as u32 + u32::from(first + last);
    if calls.len() < 3 {
        Err(sum)
    } else {
        Ok(sum)
    }
}

#[retry(attempts = 2, base = "0ms")]
fn sync_patterns((a, mut b): (u8, u8), ref name: String, calls: &mut u32) -> Result<String, u8> {
    b += 1;
    *calls += 1;
    if *calls < 2 {
        Err(a + b)
    } else {
        Ok(format!("{name}{a}{b}"))
    }
}

#[tokio::test(start_paused = true)]
async fn argument_patterns_work() {
    let mut calls = Vec::new();
    let got = patterns(
        (1, 2),
        10,
        Point { x: 3, y: 4 },
        [5, 0, 0, 6],
        9,
        &mut calls,
    )
    .await;
    // `mut x` starts from 10 on every attempt.
    assert_eq!(calls, [11, 11, 11]);
    assert_eq!(got, Ok(1 + 2 + 11 + 7 + 11));

    let mut calls = 0;
    assert_eq!(
        sync_patterns((1, 2), "n".into(), &mut calls),
        Ok("n13".into())
    );
}

// ---- generics, lifetimes, `impl Trait` ------------------------------------------------------

#[retry(attempts = 3, base = "1ms")]
async fn generic<'a, T, K, E>(items: &'a [T], key: K, calls: &mut u32) -> Result<&'a T, E>
where
    T: PartialEq<K> + Sync,
    K: Clone + Send,
    E: From<String>,
{
    *calls += 1;
    if *calls < 3 {
        return Err(E::from(format!("attempt {calls}")));
    }
    items
        .iter()
        .find(|item| **item == key)
        .ok_or_else(|| E::from("missing".to_string()))
}

static ELIDED_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(attempts = 2, base = "1ms")]
async fn elided(text: &str) -> Result<&str, ()> {
    if ELIDED_CALLS.fetch_add(1, Ordering::SeqCst) < 1 {
        Err(())
    } else {
        Ok(text.split(' ').next().unwrap_or(""))
    }
}

#[retry(attempts = 3, base = "1ms")]
async fn const_generic<const N: usize>(mut array: [u8; N], calls: &mut u32) -> Result<usize, u8> {
    array[0] += 1;
    *calls += 1;
    if *calls < 3 {
        Err(array[0])
    } else {
        Ok(N + usize::from(array[0]))
    }
}

#[retry(attempts = 3, base = "1ms")]
async fn impl_trait_args(
    name: impl AsRef<str> + Clone,
    shown: &impl Display,
    make: impl Fn(u32) -> u32 + Clone,
    calls: &mut u32,
) -> Result<String, String> {
    *calls += 1;
    let text = format!("{}:{}:{}", name.as_ref(), shown, make(*calls));
    if *calls < 3 {
        Err(text)
    } else {
        Ok(text)
    }
}

#[retry(attempts = 2, base = "0ms")]
fn sync_generic<T: Clone + fmt::Debug>(value: T, calls: &mut u32) -> Result<String, String> {
    *calls += 1;
    if *calls < 2 {
        Err(format!("{value:?}"))
    } else {
        Ok(format!("{value:?}!"))
    }
}

struct Wrapper<T>(T);

impl<T: Clone + PartialEq + fmt::Debug> Wrapper<T> {
    #[retry(attempts = 3, base = "1ms")]
    async fn matches<'s>(&'s self, other: T, calls: &mut u32) -> Result<&'s T, String> {
        *calls += 1;
        if *calls < 3 || self.0 != other {
            Err(format!("{other:?}"))
        } else {
            Ok(&self.0)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn generics_lifetimes_and_impl_trait_arguments() {
    let items = [1u32, 2, 3];
    let mut calls = 0;
    let found: Result<&u32, String> = generic(&items, 2u32, &mut calls).await;
    assert_eq!(found, Ok(&2));
    assert_eq!(calls, 3);

    assert_eq!(elided("first word").await, Ok("first"));
    assert_eq!(ELIDED_CALLS.load(Ordering::SeqCst), 2);

    let mut calls = 0;
    assert_eq!(const_generic([1, 2, 3], &mut calls).await, Ok(5));

    let mut calls = 0;
    let offset = 100;
    let got = impl_trait_args("svc", &42, move |n| n + offset, &mut calls).await;
    assert_eq!(got, Ok("svc:42:103".to_string()));

    let mut calls = 0;
    assert_eq!(sync_generic(vec![1], &mut calls), Ok("[1]!".to_string()));

    let wrapper = Wrapper(String::from("x"));
    let mut calls = 0;
    assert_eq!(
        wrapper.matches("x".into(), &mut calls).await,
        Ok(&"x".to_string())
    );
    assert_eq!(calls, 3);
}

// ---- `async fn` in a trait impl -------------------------------------------------------------

trait Fetch {
    async fn fetch(&self, id: u32) -> Result<u32, String>;
    fn fetch_now(&mut self, id: u32) -> Result<u32, String>;
}

impl Fetch for Service {
    #[retry(attempts = 3, base = "1ms")]
    async fn fetch(&self, id: u32) -> Result<u32, String> {
        let n = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(format!("{id} failed"))
        } else {
            Ok(id * n)
        }
    }

    #[retry(attempts = 3, base = "0ms")]
    fn fetch_now(&mut self, id: u32) -> Result<u32, String> {
        self.hits += 1;
        if self.hits < 3 {
            Err(format!("{id} failed"))
        } else {
            Ok(id + self.hits)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn trait_impl_methods() {
    let mut svc = Service::default();
    assert_eq!(svc.fetch(7).await, Ok(21));
    assert_eq!(svc.fetch_now(7), Ok(10));
}

// ---- return types ---------------------------------------------------------------------------

type Res<T> = Result<T, MyErr>;

#[retry(attempts = 3, base = "1ms")]
async fn io_result(calls: &mut u32) -> std::io::Result<u32> {
    *calls += 1;
    if *calls < 3 {
        return Err(std::io::Error::other("flaky"));
    }
    Ok(*calls)
}

#[retry(attempts = 3, base = "1ms")]
async fn alias_result(calls: &mut u32) -> Res<u32> {
    *calls += 1;
    let n: u32 = if *calls < 3 {
        "?".parse()?
    } else {
        "8".parse()?
    };
    Ok(n)
}

#[retry(attempts = 2, base = "0ms")]
fn sync_alias(calls: &mut u32) -> Res<()> {
    *calls += 1;
    Err(MyErr::Other(*calls))
}

#[retry(attempts = 2, base = "1ms")]
async fn unit_ok(calls: &mut u32) -> Result<(), ()> {
    *calls += 1;
    if *calls < 2 {
        Err(())
    } else {
        Ok(())
    }
}

#[retry(attempts = 2, base = "1ms")]
async fn boxed_error(text: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text.trim().parse::<u32>()?)
}

#[retry(attempts = 3, base = "1ms")]
async fn impl_in_return(calls: &mut u32) -> Result<impl Display, String> {
    *calls += 1;
    if *calls < 3 {
        Err(format!("attempt {calls}"))
    } else {
        Ok(*calls * 2)
    }
}

#[retry(attempts = 3, base = "0ms")]
fn sync_impl_in_return(calls: &mut u32) -> Result<impl Display, String> {
    *calls += 1;
    if *calls < 3 {
        Err(format!("attempt {calls}"))
    } else {
        Ok("done")
    }
}

#[tokio::test(start_paused = true)]
async fn result_aliases_and_other_result_types() {
    let mut calls = 0;
    assert_eq!(io_result(&mut calls).await.unwrap(), 3);
    let mut calls = 0;
    assert_eq!(alias_result(&mut calls).await, Ok(8));
    assert_eq!(calls, 3);
    let mut calls = 0;
    assert_eq!(sync_alias(&mut calls), Err(MyErr::Other(2)));
    let mut calls = 0;
    assert_eq!(unit_ok(&mut calls).await, Ok(()));
    assert_eq!(calls, 2);

    assert_eq!(boxed_error(" 12 ").await.unwrap(), 12);
    assert!(boxed_error("x").await.is_err());

    let mut calls = 0;
    assert_eq!(impl_in_return(&mut calls).await.unwrap().to_string(), "6");
    let mut calls = 0;
    assert_eq!(sync_impl_in_return(&mut calls).unwrap().to_string(), "done");
    assert_eq!(calls, 3);
}

// ---- attributes and visibility --------------------------------------------------------------

/// Doc comment kept.
#[must_use = "the result says whether the call worked"]
#[retry(attempts = 2, base = "1ms")]
#[inline]
pub(crate) async fn with_attributes(calls: &mut u32) -> Result<u32, ()> {
    *calls += 1;
    if *calls < 2 {
        Err(())
    } else {
        Ok(*calls)
    }
}

/// `non_snake_case` is denied for this file, so this compiles only if the `allow` stays on
/// the function.
#[retry(attempts = 2, base = "0ms")]
#[allow(non_snake_case)]
fn CamelCase(calls: &mut u32) -> Result<u32, ()> {
    *calls += 1;
    Ok(*calls)
}

// Two functions of one name: this compiles only if each keeps its `cfg`.
#[retry(attempts = 2, base = "0ms")]
#[cfg(not(any()))]
fn configured(calls: &mut u32) -> Result<&'static str, ()> {
    *calls += 1;
    Ok("kept")
}

#[retry(attempts = 2, base = "0ms")]
#[cfg(any())]
fn configured(calls: &mut u32) -> Result<&'static str, ()> {
    *calls += 1;
    Ok("removed")
}

#[cfg_attr(all(), doc = "Doc set through `cfg_attr`.")]
#[retry(attempts = 2, base = "0ms")]
#[doc = "More doc."]
fn doc_attr() -> Result<u8, ()> {
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn attributes_stay_on_the_function() {
    let mut calls = 0;
    assert_eq!(with_attributes(&mut calls).await, Ok(2));
    let mut calls = 0;
    assert_eq!(CamelCase(&mut calls), Ok(1));
    let mut calls = 0;
    assert_eq!(configured(&mut calls), Ok("kept"));
    assert_eq!(doc_attr(), Ok(1));
}

// ---- `Send` futures -------------------------------------------------------------------------

struct Client {
    calls: AtomicU32,
}

impl Client {
    async fn get(&self, id: u64) -> Result<u64, String> {
        tokio::task::yield_now().await;
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n < 3 {
            Err(format!("{id}: not yet"))
        } else {
            Ok(id)
        }
    }
}

#[retry(attempts = 3, base = "1ms", jitter = decorrelated, deadline = "10s")]
async fn fetch(client: &Client, id: u64) -> Result<u64, String> {
    client.get(id).await
}

#[retry(attempts = 4, base = "1ms", jitter)]
async fn fetch_owned(client: Arc<Client>, id: u64, tag: String) -> Result<String, String> {
    let got = client.get(id).await?;
    Ok(format!("{tag}{got}"))
}

#[retry(policy = retry_runtime::Policy::new().with_attempts(3).with_base(std::time::Duration::from_millis(1)))]
async fn fetch_runtime_policy(client: Arc<Client>) -> Result<u64, String> {
    client.get(9).await
}

#[tokio::test(start_paused = true)]
async fn futures_are_send_when_the_body_is() {
    let client = Client {
        calls: AtomicU32::new(0),
    };
    let fut = fetch(&client, 5);
    assert_send(&fut);
    assert_eq!(fut.await, Ok(5));

    let mut svc = Service::default();
    let fut = svc.by_mut();
    assert_send(&fut);
    assert_eq!(fut.await, Ok(4));

    let svc = Service::default();
    let fut = svc.fetch(2);
    assert_send(&fut);
    assert_eq!(fut.await, Ok(6));

    let items = [1u32];
    let mut calls = 0;
    let fut = generic::<u32, u32, String>(&items, 1, &mut calls);
    assert_send(&fut);
    assert_eq!(fut.await, Ok(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_can_be_spawned_on_a_multi_thread_runtime() {
    let client = Arc::new(Client {
        calls: AtomicU32::new(0),
    });
    let task = tokio::spawn(fetch_owned(Arc::clone(&client), 4, "id=".to_string()));
    assert_eq!(task.await.unwrap(), Ok("id=4".to_string()));
    assert_eq!(client.calls.load(Ordering::SeqCst), 3);

    let client = Arc::new(Client {
        calls: AtomicU32::new(0),
    });
    let task = tokio::spawn(fetch_runtime_policy(Arc::clone(&client)));
    assert_eq!(task.await.unwrap(), Ok(9));

    let svc = Service::default();
    let task = tokio::spawn(async move { svc.by_value().await.map(|s| s.hits) });
    assert_eq!(task.await.unwrap(), Ok(1));
}
