//! tollgate-redis against a real `redis-server` on 127.0.0.1 (Debian's package; `.ci/run`
//! installs it): round trips between instances, expiry, faults, AUTH, TLS and Cluster.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{LogCapture, RedisServer, TlsFiles, begin, next, next_fact, wait_for};
use tollgate::store::{
    Digest, Fact, Namespace, Notice, RevocationRule, RuleTarget, SharedStore, StoreErrorKind,
    StoredAnswer,
};
use tollgate_redis::RedisStore;

fn answer(body: &'static str) -> StoredAnswer {
    StoredAnswer {
        fetched_at: 1_767_222_000_123,
        body: body.as_bytes().into(),
    }
}

fn ns() -> Namespace {
    Namespace::new("https://as.example", ["https://api.example"])
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

fn revoked(seed: u8, until: i64) -> Fact {
    Fact::Revoked {
        token: Digest([seed; 32]),
        until,
    }
}

fn rule(subject: &str, until: i64) -> Fact {
    Fact::Rule(RevocationRule {
        issuer: "https://as.example".into(),
        target: RuleTarget::Subject(subject.into()),
        issued_before: Some(now()),
        until,
    })
}

/// Connects, subscribes and waits until the subscription is in place.
async fn subscribed(url: &str) -> (RedisStore, futures_util::stream::BoxStream<'static, Notice>) {
    let store = RedisStore::connect(url).await.expect("connects");
    let mut notices = store.subscribe(&ns());
    wait_for(&mut notices, Notice::Reconnected).await;
    (store, notices)
}

fn sorted(mut facts: Vec<Fact>) -> Vec<String> {
    let mut out: Vec<String> = facts.drain(..).map(|fact| format!("{fact:?}")).collect();
    out.sort();
    out
}

#[tokio::test]
async fn publish_load_and_subscribe_between_two_instances() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let (one, mut one_notices) = subscribed(&redis.url()).await;
    let (two, mut two_notices) = subscribed(&redis.url()).await;

    let token = revoked(1, now() + 600);
    let alice = rule("alice", now() + 600);
    one.publish(&ns(), &token).await.unwrap();
    two.publish(&ns(), &alice).await.unwrap();

    // Each instance hears both, its own included.
    for notices in [&mut one_notices, &mut two_notices] {
        let heard = vec![next_fact(notices).await, next_fact(notices).await];
        assert_eq!(sorted(heard), sorted(vec![token.clone(), alice.clone()]));
    }
    // A third instance that starts now loads both.
    let three = RedisStore::connect(&redis.url()).await.unwrap();
    assert_eq!(
        sorted(three.load(&ns()).await.unwrap()),
        sorted(vec![token, alice])
    );
    assert!(three.describe().starts_with("redis://127.0.0.1:"));
}

#[tokio::test]
async fn namespaces_do_not_see_each_other() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let other = Namespace::new("https://as.example", ["https://other-api.example"]);
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    let mut theirs = store.subscribe(&other);
    wait_for(&mut theirs, Notice::Reconnected).await;
    store
        .publish(&ns(), &revoked(1, now() + 600))
        .await
        .unwrap();
    let key = Digest([2; 32]);
    store
        .put_answer(&ns(), &key, &answer("{}"), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        store
            .first_use(&ns(), &key, Duration::from_secs(60))
            .await
            .unwrap()
    );

    assert_eq!(store.load(&other).await.unwrap(), vec![]);
    assert_eq!(store.get_answer(&other, &key).await.unwrap(), None);
    assert!(
        store
            .first_use(&other, &key, Duration::from_secs(60))
            .await
            .unwrap()
    );
    // A fact of their own arrives, and is the first thing they hear.
    let mine = revoked(3, now() + 600);
    store.publish(&other, &mine).await.unwrap();
    assert_eq!(next(&mut theirs).await, Notice::Fact(mine));
}

#[tokio::test]
async fn facts_answers_and_marks_expire() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    // Over within a second (the TTL is counted from the current millisecond).
    store.publish(&ns(), &revoked(1, now() + 1)).await.unwrap();
    let lasting = revoked(2, now() + 600);
    store.publish(&ns(), &lasting).await.unwrap();
    // Already over: neither recorded nor sent.
    store.publish(&ns(), &revoked(3, now() - 1)).await.unwrap();
    let key = Digest([4; 32]);
    store
        .put_answer(
            &ns(),
            &key,
            &answer(r#"{"active":true}"#),
            Duration::from_millis(300),
        )
        .await
        .unwrap();
    assert!(
        store
            .first_use(&ns(), &key, Duration::from_millis(300))
            .await
            .unwrap()
    );
    assert!(
        !store
            .first_use(&ns(), &key, Duration::from_millis(300))
            .await
            .unwrap()
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(store.load(&ns()).await.unwrap(), vec![lasting]);
    assert_eq!(store.get_answer(&ns(), &key).await.unwrap(), None);
    assert!(
        store
            .first_use(&ns(), &key, Duration::from_millis(300))
            .await
            .unwrap()
    );
    // The index lost the expired member on the next publish.
    store
        .publish(&ns(), &revoked(5, now() + 600))
        .await
        .unwrap();
    let mut raw = redis.raw().await;
    let index = format!("tollgate:{{{}}}:idx", ns().as_str());
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(&index)
        .arg(0)
        .arg(-1)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    let index_ttl: i64 = redis::cmd("PTTL")
        .arg(&index)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        index_ttl > 500_000,
        "the index lives as long as its last member: {index_ttl}"
    );
}

#[tokio::test]
async fn publishing_again_keeps_the_later_end() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    store
        .publish(&ns(), &revoked(1, now() + 900))
        .await
        .unwrap();
    store
        .publish(&ns(), &revoked(1, now() + 300))
        .await
        .unwrap();
    let facts = store.load(&ns()).await.unwrap();
    assert_eq!(facts.len(), 1);
    assert!(facts[0].until() >= now() + 899, "{facts:?}");
}

#[tokio::test]
async fn answers_are_shared_between_instances() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let one = RedisStore::connect(&redis.url()).await.unwrap();
    let two = RedisStore::connect(&redis.url()).await.unwrap();
    let key = Digest([7; 32]);
    assert_eq!(two.get_answer(&ns(), &key).await.unwrap(), None);
    let stored = answer(r#"{"active":true,"sub":"alice","exp":1900000000}"#);
    one.put_answer(&ns(), &key, &stored, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(two.get_answer(&ns(), &key).await.unwrap(), Some(stored));
    // The TTL is the caller's (at most the budget and the token's exp).
    let mut raw = redis.raw().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!(
            "tollgate:{{{}}}:ans:{}",
            ns().as_str(),
            key.to_base64url()
        ))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((1..=30_000).contains(&ttl), "{ttl}");
    // A zero TTL stores nothing.
    let other = Digest([8; 32]);
    one.put_answer(&ns(), &other, &answer("{}"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(two.get_answer(&ns(), &other).await.unwrap(), None);
}

#[tokio::test]
async fn first_use_is_true_once_across_instances() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::start();
    let one = RedisStore::connect(&redis.url()).await.unwrap();
    let two = RedisStore::connect(&redis.url()).await.unwrap();
    let jti = Digest::of(b"proof-jti-1");
    let ttl = Duration::from_secs(60);
    let (a, b) = tokio::join!(
        one.first_use(&ns(), &jti, ttl),
        two.first_use(&ns(), &jti, ttl)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a ^ b,
        "exactly one of two concurrent uses is the first: {a} {b}"
    );
    assert!(!one.first_use(&ns(), &jti, ttl).await.unwrap());
}

#[tokio::test]
async fn garbage_in_keys_and_on_the_channel_is_ignored_with_a_warn() {
    let Some(()) = begin() else { return };
    let logs = LogCapture::default();
    let _guard = logs.install();
    let redis = RedisServer::start();
    let (store, mut notices) = subscribed(&redis.url()).await;
    let good = revoked(1, now() + 600);
    store.publish(&ns(), &good).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, good);

    let base = format!("tollgate:{{{}}}:", ns().as_str());
    let index = format!("{base}idx");
    let mut raw = redis.raw().await;
    let moved = revoked(3, now() + 600);
    let entries: Vec<(String, Vec<u8>)> = vec![
        // Not JSON, quoting something secret-looking.
        (
            format!("rev:{}", Digest([2; 32]).to_base64url()),
            b"SECRET-garbage{".to_vec(),
        ),
        // A valid fact under the key of another one.
        (
            format!("rev:{}", Digest([4; 32]).to_base64url()),
            tollgate::store::wire::encode_fact(&moved)
                .unwrap()
                .into_bytes(),
        ),
        // A newer version.
        ("rule:x".to_owned(), br#"{"v":2,"type":"rule"}"#.to_vec()),
        // Not UTF-8.
        ("rev:bin".to_owned(), vec![0xff, 0xfe, 0x00]),
    ];
    for (member, value) in &entries {
        let _: () = redis::cmd("SET")
            .arg(format!("{base}{member}"))
            .arg(value.as_slice())
            .query_async(&mut raw)
            .await
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg(&index)
            .arg(i64::MAX / 4)
            .arg(member)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    // A member with no key (expired, or never written) is simply absent.
    let _: () = redis::cmd("ZADD")
        .arg(&index)
        .arg(i64::MAX / 4)
        .arg("rev:gone")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(store.load(&ns()).await.unwrap(), vec![good.clone()]);
    assert_eq!(store.status().malformed_ignored(), 4);

    // On the channel: garbage, then a good fact. Only the good one arrives.
    let channel = format!("{base}events");
    for junk in [&b"SECRET-not-json"[..], br#"{"v":1,"type":"revoked"}"#, b""] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(junk)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let after = revoked(5, now() + 600);
    store.publish(&ns(), &after).await.unwrap();
    assert_eq!(next(&mut notices).await, Notice::Fact(after));
    assert_eq!(store.status().malformed_ignored(), 7);

    // An answer that does not parse is as if absent.
    let key = Digest([6; 32]);
    let _: () = redis::cmd("SET")
        .arg(format!("{base}ans:{}", key.to_base64url()))
        .arg("SECRET{")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(store.get_answer(&ns(), &key).await.unwrap(), None);
    assert_eq!(store.status().malformed_ignored(), 8);

    let text = logs.text();
    // One WARN for the first, the rest counted until the next minute.
    assert_eq!(
        text.matches("do not follow the wire format").count(),
        1,
        "{text}"
    );
    assert!(text.contains("WARN"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn a_slow_redis_times_out_instead_of_hanging() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::with_args(&["--enable-debug-command", "yes"]);
    let store = RedisStore::builder()
        .request_timeout(Duration::from_millis(50))
        .connect(&redis.url())
        .await
        .unwrap();
    let key = Digest([1; 32]);
    store
        .put_answer(&ns(), &key, &answer("{}"), Duration::from_secs(60))
        .await
        .unwrap();
    let mut raw = redis.raw().await;
    // Redis stops answering anyone for a second.
    let sleeper = tokio::spawn(async move {
        let _: Result<(), _> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(1)
            .query_async(&mut raw)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let error = store.get_answer(&ns(), &key).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Timeout, "{error}");
    sleeper.await.unwrap();
    // Slow is not down: once Redis answers again, so does the store (the first calls may
    // still meet the backlog on a busy machine).
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(found) = store.get_answer(&ns(), &key).await {
            assert!(found.is_some());
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "the store answers again after the stall");
}

#[tokio::test]
async fn redis_killed_and_restarted_instances_hear_of_it_and_facts_flow_again() {
    let Some(()) = begin() else { return };
    let logs = LogCapture::default();
    let _guard = logs.install();
    let mut redis = RedisServer::start();
    let store = RedisStore::builder()
        .heartbeat(Duration::from_millis(200))
        .connect(&redis.url())
        .await
        .unwrap();
    let mut notices = store.subscribe(&ns());
    wait_for(&mut notices, Notice::Reconnected).await;
    let before = revoked(1, now() + 600);
    store.publish(&ns(), &before).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, before);

    redis.kill();
    assert_eq!(next(&mut notices).await, Notice::Lost);
    assert!(!store.status().is_connected());
    // While down, every call fails (at once: the store knows it is down), none hangs.
    let during = revoked(2, now() + 600);
    let error = store.publish(&ns(), &during).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(store.load(&ns()).await.is_err());
    assert!(store.get_answer(&ns(), &Digest([3; 32])).await.is_err());
    assert!(
        store
            .first_use(&ns(), &Digest([3; 32]), Duration::from_secs(9))
            .await
            .is_err()
    );

    redis.restart();
    wait_for(&mut notices, Notice::Reconnected).await;
    assert!(store.status().is_connected());
    // What the engine queued during the outage is published now and heard.
    store.publish(&ns(), &during).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, during);
    assert_eq!(store.load(&ns()).await.unwrap(), vec![during]);

    assert_eq!(store.status().outages(), 1);
    let text = logs.text();
    assert_eq!(
        text.matches("is unreachable").count(),
        1,
        "one WARN per outage: {text}"
    );
    assert!(text.contains("is reachable again"), "{text}");
}

#[tokio::test]
async fn a_lazy_store_starts_while_redis_is_down() {
    let Some(()) = begin() else { return };
    let port = support::free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let store = RedisStore::builder()
        .heartbeat(Duration::from_millis(200))
        .connect_lazy(&url)
        .unwrap();
    let mut notices = store.subscribe(&ns());
    assert!(
        store
            .publish(&ns(), &revoked(1, now() + 600))
            .await
            .is_err()
    );
    wait_for(&mut notices, Notice::Lost).await;

    // The same port, now served.
    let redis = RedisServer::start_on(port);
    wait_for(&mut notices, Notice::Reconnected).await;
    let fact = revoked(2, now() + 600);
    store.publish(&ns(), &fact).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, fact);
    drop(redis);
}

#[tokio::test]
async fn an_eager_connect_to_nothing_fails_clearly() {
    let Some(()) = begin() else { return };
    let port = support::free_port();
    let error = RedisStore::connect(&format!("redis://:s3cret@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[tokio::test]
async fn auth_by_password_and_by_acl_user() {
    let Some(()) = begin() else { return };
    let redis = RedisServer::with_args(&[
        "--requirepass",
        "s3cret-pw",
        // The least privilege the crate docs recommend: tollgate's keys and channels only.
        "--user",
        "tollgate",
        "on",
        ">t0llgate-pw",
        "~tollgate:*",
        "&tollgate:*",
        "+@all",
        "-@dangerous",
    ]);
    let (store, mut notices) = subscribed(&redis.url_with(":s3cret-pw@")).await;
    let fact = revoked(1, now() + 600);
    store.publish(&ns(), &fact).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, fact);

    let (acl, mut acl_notices) = subscribed(&redis.url_with("tollgate:t0llgate-pw@")).await;
    let other = rule("bob", now() + 600);
    acl.publish(&ns(), &other).await.unwrap();
    assert_eq!(next_fact(&mut acl_notices).await, other);
    assert_eq!(acl.load(&ns()).await.unwrap().len(), 2);
    assert!(
        acl.first_use(&ns(), &Digest([2; 32]), Duration::from_secs(5))
            .await
            .unwrap()
    );

    for userinfo in [":wrong-pw@", "tollgate:wrong-pw@", "nobody:s3cret-pw@", ""] {
        let error = RedisStore::connect(&redis.url_with(userinfo))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Auth, "{userinfo}: {error}");
        assert!(error.to_string().contains("credentials"), "{error}");
        for secret in ["wrong-pw", "s3cret-pw"] {
            assert!(!error.to_string().contains(secret), "{error}");
            assert!(!format!("{error:?}").contains(secret), "{error:?}");
        }
    }
    assert!(!format!("{store:?}").contains("s3cret"), "{store:?}");
    assert!(!store.describe().contains("s3cret"));
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let Some(()) = begin() else { return };
    let tls = TlsFiles::make();
    let redis = RedisServer::with_tls(&tls, &["--requirepass", "pw"]);
    let url = redis.url_with(":pw@");
    let store = RedisStore::builder()
        .root_certificates_pem(tls.ca_pem())
        .connect(&url)
        .await
        .unwrap();
    assert!(store.describe().starts_with("rediss://localhost:"));
    let mut notices = store.subscribe(&ns());
    wait_for(&mut notices, Notice::Reconnected).await;
    let fact = revoked(1, now() + 600);
    store.publish(&ns(), &fact).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, fact);
    assert_eq!(store.load(&ns()).await.unwrap(), vec![fact]);

    // The webpki roots do not know the test CA: refused, not connected unverified.
    let error = RedisStore::connect(&url).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Auth, "{error}");
    // And a plain connection to a TLS port is no connection either.
    let plain = url.replacen("rediss://", "redis://", 1);
    assert!(RedisStore::connect(&plain).await.is_err());
}

#[tokio::test]
async fn redis_cluster_round_trip() {
    let Some(()) = begin() else { return };
    let nodes = support::cluster();
    let urls: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let one = RedisStore::cluster(&urls[..1]).await.unwrap();
    let two = RedisStore::cluster(&urls).await.unwrap();
    assert!(one.describe().starts_with("redis cluster ("));
    let mut notices = two.subscribe(&ns());
    wait_for(&mut notices, Notice::Reconnected).await;
    // Several namespaces, so that several slots (and likely nodes) are used.
    let spaces: Vec<Namespace> = (0..6)
        .map(|i| Namespace::new("https://as.example", [format!("api-{i}")]))
        .collect();
    let until = now() + 600;
    for (i, space) in spaces.iter().enumerate() {
        let fact = revoked(i as u8, until);
        one.publish(space, &fact).await.unwrap();
        assert_eq!(two.load(space).await.unwrap(), vec![fact]);
    }
    let fact = rule("carol", now() + 600);
    one.publish(&ns(), &fact).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, fact);
    let key = Digest([9; 32]);
    one.put_answer(&ns(), &key, &answer("{}"), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        two.get_answer(&ns(), &key).await.unwrap(),
        Some(answer("{}"))
    );
    assert!(
        one.first_use(&ns(), &key, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !two.first_use(&ns(), &key, Duration::from_secs(30))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn redis_cluster_node_killed_and_restarted() {
    let Some(()) = begin() else { return };
    let mut nodes = support::cluster();
    let urls: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let store = RedisStore::builder()
        .heartbeat(Duration::from_millis(200))
        .cluster(&urls)
        .await
        .unwrap();
    let mut notices = store.subscribe(&ns());
    wait_for(&mut notices, Notice::Reconnected).await;
    let before = revoked(1, now() + 600);
    store.publish(&ns(), &before).await.unwrap();
    assert_eq!(next_fact(&mut notices).await, before);

    // The node that serves the namespace's slot.
    let mut raw = nodes[0].raw().await;
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(format!("tollgate:{{{}}}:idx", ns().as_str()))
        .query_async(&mut raw)
        .await
        .unwrap();
    let owner = nodes
        .iter()
        .position(|node| {
            let output = std::process::Command::new("redis-cli")
                .args([
                    "-p",
                    &node.port().to_string(),
                    "cluster",
                    "countkeysinslot",
                    &slot.to_string(),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).trim() != "0"
        })
        .expect("a node holds the namespace's keys");
    nodes[owner].kill();
    wait_for(&mut notices, Notice::Lost).await;
    // While the slot's node is down, calls about the namespace fail; the store does not
    // flap between up and down (one outage), though other nodes answer.
    let after = revoked(2, now() + 600);
    for _ in 0..5 {
        assert!(store.publish(&ns(), &after).await.is_err());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nodes[owner].restart();
    wait_for(&mut notices, Notice::Reconnected).await;
    let mut published = false;
    for _ in 0..100 {
        if store.publish(&ns(), &after).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "the cluster serves the slot again");
    assert_eq!(next_fact(&mut notices).await, after);
    assert_eq!(store.status().outages(), 1);
}
