use retry_runtime::retry;
use retry_suite::Counter;

static CALLS: Counter = Counter::new();

#[retry(attempts = 3, base = "10ms")]
async fn flaky(
    x: u32,
    s: &str,
    v: &mut Vec<u32>,
    (a, b): (u8, u8),
    mut owned: String,
) -> Result<u32, String> {
    owned.push('!');
    v.push(x);
    let n = CALLS.bump();
    let _: u32 = s.parse().map_err(|_| "parse".to_string())?;
    if n < 3 {
        return Err(format!("n={n} {a}{b}{owned}"));
    }
    Ok(n)
}

struct Svc {
    hits: u32,
}
impl Svc {
    #[retry(attempts = 4, base = "1ms", backoff = constant)]
    async fn go(&mut self) -> std::io::Result<u32> {
        self.hits += 1;
        if self.hits < 4 {
            Err(std::io::Error::other("x"))
        } else {
            Ok(self.hits)
        }
    }
    #[retry(attempts = 2)]
    fn sync_go(&self, k: u32) -> Result<u32, ()> {
        let _ = self.hits;
        Ok(k)
    }
}

#[tokio::test(start_paused = true)]
async fn works() {
    let mut v = vec![];
    assert_eq!(flaky(1, "5", &mut v, (1, 2), String::new()).await, Ok(3));
    assert_eq!(v.len(), 3);
    let mut s = Svc { hits: 0 };
    assert_eq!(s.go().await.unwrap(), 4);
    assert_eq!(s.sync_go(5), Ok(5));
}
