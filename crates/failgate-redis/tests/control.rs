//! Operator control on the fleet breaker ([`failgate::Control`]), against a real Redis:
//! two instances of one breaker stand for two hosts; an order on one reaches both.

mod common;

use common::{eventually, fleet, instances, raw, unique_namespace, Redis, Target};
use failgate::{Control, State};
use failgate_redis::testing::LossyProxy;
use failgate_redis::{FleetBreaker, FleetConfigError, Mode};
use redis::AsyncCommands;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// The shared state hash's `state` and `gen`.
async fn shared(url: &str, ns: &str) -> (Option<String>, u64) {
    let mut con = raw(url).await;
    let key = format!("failgate:{ns}:dependency:state");
    let state: Option<String> = con.hget(&key, "state").await.unwrap();
    let gen: Option<u64> = con.hget(&key, "gen").await.unwrap();
    (state, gen.unwrap_or(0))
}

fn refused_state(b: &FleetBreaker) -> Option<State> {
    b.try_acquire().err().map(|r| r.state())
}

/// Two hosts; the first forces the fleet open, and the second follows.
async fn forced_open_by_the_first(url: &str, ns: &str) -> Vec<FleetBreaker> {
    let hosts = instances(2, || fleet(url, ns)).await;
    hosts[0].force_open();
    eventually("the second is forced open", 2 * SECOND, || {
        hosts[1].state() == State::ForcedOpen
    })
    .await;
    hosts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_on_one_instance_reaches_the_whole_fleet() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("order-fleet");
    let hosts = forced_open_by_the_first(&redis.url, &ns).await;
    let (a, b) = (&hosts[0], &hosts[1]);
    assert_eq!(
        shared(&redis.url, &ns).await,
        (Some("forced_open".into()), 1)
    );
    eventually("a confirmed by Redis", 2 * SECOND, || {
        a.status().generation == 1
    })
    .await;

    a.open_for(Duration::from_millis(300)).unwrap();
    eventually("b is open", 2 * SECOND, || b.state() == State::Open).await;
    let left = b.try_acquire().unwrap_err().retry_after().unwrap();
    assert!(left <= Duration::from_millis(300), "{left:?}");
    // After the wait, b half-opens lazily, as after a trip: a call asks for a probe.
    eventually("b gets a probe", 3 * SECOND, || match b.try_acquire() {
        Ok(p) => {
            assert!(p.is_probe());
            p.success();
            true
        }
        Err(_) => false,
    })
    .await;
    eventually("the probe closes the fleet", 2 * SECOND, || {
        a.state() == State::Closed && b.state() == State::Closed
    })
    .await;

    a.half_open();
    eventually("b is half-open", 2 * SECOND, || {
        b.state() == State::HalfOpen
    })
    .await;
    b.close();
    eventually("a is closed", 2 * SECOND, || a.state() == State::Closed).await;
    a.count_only();
    eventually("b counts only", 2 * SECOND, || {
        b.state() == State::CountOnly
    })
    .await;
    b.reset();
    eventually("a is reset", 2 * SECOND, || a.state() == State::Closed).await;
    let (state, gen) = shared(&redis.url, &ns).await;
    assert_eq!(state.as_deref(), Some("closed"));
    assert_eq!(a.status().generation, gen);
    assert_eq!(b.status().generation, gen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_states_are_left_only_by_an_order_and_admit_as_documented() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("order-states");
    let hosts = forced_open_by_the_first(&redis.url, &ns).await;
    let (a, b) = (&hosts[0], &hosts[1]);
    let r = b.try_acquire().unwrap_err();
    assert_eq!((r.state(), r.retry_after()), (State::ForcedOpen, None));
    // Longer than the open wait (500 ms) and the calls' requests: no time transition.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(refused_state(b), Some(State::ForcedOpen));
    assert_eq!(refused_state(a), Some(State::ForcedOpen));

    a.disable();
    eventually("b is disabled", 2 * SECOND, || b.state() == State::Disabled).await;
    for _ in 0..20 {
        assert!(b.call(|| Err::<(), _>("down")).is_err());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let gen = a.status().generation;
    assert_eq!(b.state(), State::Disabled);
    // A round trip after the failures: the window counted none of them.
    a.count_only();
    eventually("b counts only", 2 * SECOND, || {
        b.state() == State::CountOnly
    })
    .await;
    assert_eq!(b.status().shared_calls, 0, "disabled counted nothing");
    assert_eq!(shared(&redis.url, &ns).await.1, gen + 1);

    for _ in 0..20 {
        let outcome = b.call(|| Err::<(), _>("down"));
        assert!(
            matches!(outcome, Err(failgate::Error::Inner(_))),
            "admitted"
        );
    }
    eventually("the failures reach the shared window", 2 * SECOND, || {
        let s = a.status();
        s.shared_calls >= 20 && s.shared_failures >= 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((a.state(), b.state()), (State::CountOnly, State::CountOnly));
    assert_eq!(
        shared(&redis.url, &ns).await,
        (Some("count_only".into()), gen + 1),
        "never trips"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordering_instance_obeys_at_once() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("order-at-once");
    // A long flush interval: the order must not wait for it.
    let hosts = instances(1, || {
        fleet(&redis.url, &ns).flush_interval(Duration::from_millis(100))
    })
    .await;
    let a = &hosts[0];
    for (order, state) in [
        (Control::force_open as fn(&FleetBreaker), State::ForcedOpen),
        (Control::disable, State::Disabled),
        (Control::count_only, State::CountOnly),
        (Control::half_open, State::HalfOpen),
        (Control::close, State::Closed),
    ] {
        order(a);
        assert_eq!(a.state(), state, "at once");
        match state {
            State::ForcedOpen => assert_eq!(refused_state(a), Some(State::ForcedOpen)),
            State::HalfOpen => assert_eq!(refused_state(a), Some(State::HalfOpen)),
            _ => assert!(a.try_acquire().is_ok()),
        }
    }
    a.open_for(Duration::from_secs(30)).unwrap();
    let r = a.try_acquire().unwrap_err();
    assert_eq!(r.state(), State::Open);
    assert!(r.retry_after().unwrap() > Duration::from_secs(29));
    // Orders made faster than rounds replace the unsent ones: Redis applies at most
    // six, the last one an opening.
    let mut confirmed = (None, 0);
    for _ in 0..200 {
        confirmed = shared(&redis.url, &ns).await;
        if confirmed.0.as_deref() == Some("open") && a.status().generation == confirmed.1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(confirmed.0.as_deref(), Some("open"), "Redis confirms");
    assert!((1..=6).contains(&confirmed.1), "{confirmed:?}");
    assert_eq!(a.status().generation, confirmed.1);
    assert_eq!(a.state(), State::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_made_while_redis_is_down_applies_locally_and_reaches_the_fleet_on_reconnect() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let ns = unique_namespace("order-outage");
    let url = redis.url();
    let hosts = instances(2, || {
        fleet(&url, &ns).redis_timeout(Duration::from_millis(50))
    })
    .await;
    let (a, b) = (&hosts[0], &hosts[1]);
    redis.stop();
    eventually("both fall back", 3 * SECOND, || {
        a.mode() == Mode::Local && b.mode() == Mode::Local
    })
    .await;
    a.force_open();
    assert_eq!(a.state(), State::ForcedOpen);
    assert_eq!(refused_state(a), Some(State::ForcedOpen));
    assert!(b.try_acquire().is_ok(), "b has not heard");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A later order replaces the unsent one.
    a.disable();
    assert_eq!(a.state(), State::Disabled);
    assert!(a.try_acquire().is_ok());

    redis.restart();
    eventually("b follows a's last order", 5 * SECOND, || {
        b.mode() == Mode::Shared && b.state() == State::Disabled
    })
    .await;
    eventually("a is shared again", 2 * SECOND, || a.mode() == Mode::Shared).await;
    assert_eq!(a.state(), State::Disabled);
    assert_eq!(
        shared(&url, &ns).await,
        (Some("disabled".into()), 1),
        "one order applied, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_answer_is_lost_is_applied_once() {
    let Some(redis) = Redis::start() else { return };
    let proxy = LossyProxy::start(redis.port()).await.unwrap();
    let ns = unique_namespace("order-lost-reply");
    let slow = |url: &str| fleet(url, &ns).redis_timeout(Duration::from_millis(200));
    let a = slow(&proxy.url()).build().unwrap();
    let b = slow(&redis.url()).build().unwrap();
    eventually("shared", 5 * SECOND, || {
        a.mode() == Mode::Shared && b.mode() == Mode::Shared
    })
    .await;
    proxy.drop_replies(true);
    a.half_open();
    eventually("Redis ran it, and b heard", 2 * SECOND, || {
        b.state() == State::HalfOpen
    })
    .await;
    eventually("a's answer is lost: a falls back", 2 * SECOND, || {
        a.mode() == Mode::Local
    })
    .await;
    // Sent again (same batch id) while the answers stay lost, then answered.
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.drop_replies(false);
    eventually("a is shared again", 5 * SECOND, || a.mode() == Mode::Shared).await;
    let (state, gen) = shared(&redis.url(), &ns).await;
    assert_eq!(
        (state.as_deref(), gen),
        (Some("half_open"), 1),
        "applied once"
    );
    assert_eq!((a.state(), a.status().generation), (State::HalfOpen, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_for_above_max_duration_is_the_local_config_error_and_sends_nothing() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("order-too-long");
    let hosts = instances(1, || fleet(&redis.url, &ns)).await;
    let a = &hosts[0];
    let wait = failgate::MAX_DURATION + SECOND;
    let e = a.open_for(wait).unwrap_err();
    let local = failgate::CircuitBreaker::builder().build().unwrap();
    assert_eq!(e, local.open_for(wait).unwrap_err());
    assert_eq!(e.field(), "open_for");
    let far = std::time::SystemTime::now() + wait;
    assert_eq!(a.open_until(far).unwrap_err().field(), "open_until");
    assert_eq!(a.state(), State::Closed);
    assert!(a.try_acquire().is_ok());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(shared(&redis.url, &ns).await, (Some("closed".into()), 0));
    assert_eq!(a.status().generation, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_state_creates_a_missing_shared_state_and_never_overrides_one() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("initial-state");
    // No Redis at this address: the fallback starts in the initial state.
    let nowhere = FleetBreaker::builder("dependency")
        .namespace(ns.as_str())
        .redis("redis://127.0.0.1:1")
        .initial_state(State::ForcedOpen)
        .build()
        .unwrap();
    assert_eq!(nowhere.mode(), Mode::Local);
    assert_eq!(nowhere.state(), State::ForcedOpen);
    assert_eq!(refused_state(&nowhere), Some(State::ForcedOpen));

    let a = instances(1, || {
        fleet(&redis.url, &ns).initial_state(State::ForcedOpen)
    })
    .await;
    assert_eq!(a[0].state(), State::ForcedOpen);
    assert_eq!(
        shared(&redis.url, &ns).await,
        (Some("forced_open".into()), 0)
    );
    // A new instance deploys into the running fleet: the fleet's state holds.
    let b = instances(1, || fleet(&redis.url, &ns).initial_state(State::CountOnly)).await;
    assert_eq!(b[0].state(), State::ForcedOpen);
    // Lost and recreated: in the initial state again, with a new epoch. (In the
    // initial state of the instance that reaches Redis first: b leaves.)
    a[0].reset();
    eventually("closed", 2 * SECOND, || b[0].state() == State::Closed).await;
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut con = raw(&redis.url).await;
    let _: () = con
        .del(format!("failgate:{ns}:dependency:state"))
        .await
        .unwrap();
    eventually("recreated forced open", 3 * SECOND, || {
        a[0].state() == State::ForcedOpen && a[0].status().lost_state == 1
    })
    .await;

    for bad in [State::Open, State::HalfOpen] {
        match fleet(&redis.url, &ns).initial_state(bad).build() {
            Err(FleetConfigError::Policy(e)) => assert_eq!(e.field(), "initial_state"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}
