//! Registration scenarios: idempotence, NotFound, staleness inside a batch, fd reuse,
//! small buffers, many fds, close-on-exec.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::util::*;
use super::Profile;
use crate::{EventBase, Ready, Registry, Token};

fn readable_pair() -> (UnixStream, UnixStream) {
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    peer.write_all(b"ready").unwrap();
    (ours, peer)
}

/// Adding interest that is armed and removing interest that is absent are no-ops; the
/// armed set always decides what is reported.
pub fn idempotent_add_and_del<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(20)).unwrap();
    base.add_in(ours.as_fd(), Token(20)).unwrap();
    base.del_out(ours.as_fd()).unwrap();
    base.del_out(ours.as_fd()).unwrap();
    peer.write_all(b"a").unwrap();
    let ready = expect(&mut base, Token(20));
    assert_eq!(ready & (Ready::READABLE | Ready::WRITABLE), Ready::READABLE);
    drain(&ours).unwrap();
    base.add_conn(ours.as_fd(), Token(20)).unwrap();
    base.add_out(ours.as_fd(), Token(20)).unwrap();
    assert!(expect_with(&mut base, Token(20), Ready::WRITABLE).is_writable());
    base.del_in(ours.as_fd()).unwrap();
    base.del_in(ours.as_fd()).unwrap();
    base.del_out(ours.as_fd()).unwrap();
    peer.write_all(b"b").unwrap();
    expect_quiet(&mut base, Token(20));
    base.del_conn(ours.as_fd()).unwrap();
    let err = base.del_conn(ours.as_fd()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

/// `del_in`, `del_out` and `del_conn` of an fd the base does not know are `NotFound`.
pub fn not_found_for_unregistered<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, _peer) = UnixStream::pair().unwrap();
    for res in [
        base.del_in(ours.as_fd()),
        base.del_out(ours.as_fd()),
        base.del_conn(ours.as_fd()),
    ] {
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::NotFound);
    }
    base.add_in(ours.as_fd(), Token(21)).unwrap();
    base.del_conn(ours.as_fd()).unwrap();
    assert_eq!(
        base.del_in(ours.as_fd()).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

/// `add_*` with a new token for a registered fd replaces the token.
pub fn token_replaced<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(22)).unwrap();
    base.add_in(ours.as_fd(), Token(23)).unwrap();
    peer.write_all(b"t").unwrap();
    let seen = collect_until(&mut base, Token(23));
    assert!(
        union_for(&seen, Token(22)).is_empty(),
        "old token: {seen:?}"
    );
}

fn collect_until<B: EventBase>(base: &mut B, token: Token) -> Vec<(Token, Ready)> {
    let mut all = Vec::new();
    for _ in 0..20 {
        all.extend(collect(base, Some(Duration::from_millis(500))));
        if all.iter().any(|(t, _)| *t == token) {
            return all;
        }
    }
    panic!("no event for {token:?}: {all:?}");
}

/// Runs one batch in which two fds are ready; the first callback calls `act` with the
/// *other* fd's token. Returns every token delivered in that batch.
fn batch_with_two_ready<B, F>(base: &mut B, t1: Token, t2: Token, mut act: F) -> Vec<Token>
where
    B: EventBase,
    F: FnMut(&mut B::Registry, Token),
{
    let mut seen = Vec::new();
    while seen.is_empty() {
        base.wait(Some(Duration::from_secs(5)), |reg, token, _| {
            if seen.is_empty() {
                act(reg, if token == t1 { t2 } else { t1 });
            }
            seen.push(token);
        })
        .unwrap();
    }
    seen
}

/// `del_conn` inside a callback hides another fd's event pending in the same batch.
pub fn del_conn_in_callback_hides_pending<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (a, _pa) = readable_pair();
    let (b, _pb) = readable_pair();
    let (ta, tb) = (Token(24), Token(25));
    base.add_in(a.as_fd(), ta).unwrap();
    base.add_in(b.as_fd(), tb).unwrap();
    let mut victim = None;
    let seen = batch_with_two_ready(&mut base, ta, tb, |reg, other| {
        let fd = if other == ta { a.as_fd() } else { b.as_fd() };
        reg.del_conn(fd).unwrap();
        victim = Some(other);
    });
    let victim = victim.unwrap();
    assert!(
        !seen.contains(&victim),
        "deleted {victim:?} delivered: {seen:?}"
    );
    expect_quiet(&mut base, victim);
}

/// fd reuse inside one batch: the callback deregisters another ready fd, replaces its
/// number with a freshly accepted socket (dup2, as a close + accept reusing the lowest
/// number would) and registers it with a new token. Neither token reaches the batch;
/// the new registration reports only the new socket's readiness.
pub fn fd_reuse_in_one_batch<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (a, mut pa) = tcp_pair();
    let (b, mut pb) = tcp_pair();
    pa.write_all(b"a").unwrap();
    pb.write_all(b"b").unwrap();
    let (ta, tb, tnew) = (Token(26), Token(27), Token(28));
    base.add_in(a.as_fd(), ta).unwrap();
    base.add_in(b.as_fd(), tb).unwrap();
    let mut reused = None;
    let seen = batch_with_two_ready(&mut base, ta, tb, |reg, other| {
        let victim = if other == ta { &a } else { &b };
        reg.del_conn(victim.as_fd()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        dup2_onto(conn.as_raw_fd(), victim.as_raw_fd());
        drop(conn);
        reg.add_in(victim.as_fd(), tnew).unwrap();
        reused = Some(other);
    });
    let old = reused.unwrap();
    assert!(!seen.contains(&old), "old token after reuse: {seen:?}");
    assert!(
        !seen.contains(&tnew),
        "the new socket has no data yet: {seen:?}"
    );
    let victim = if old == ta { &a } else { &b };
    victim.set_nonblocking(true).unwrap();
    expect_quiet(&mut base, tnew);
    client.write_all(b"new").unwrap();
    let seen = collect_until(&mut base, tnew);
    assert!(!seen.iter().any(|(t, _)| *t == old), "{seen:?}");
    let mut buf = [0u8; 8];
    assert_eq!((&*victim).read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"new");
}

/// `close_conn` inside a callback deregisters and closes another ready fd; its pending
/// event is not delivered and nothing is reported for it later.
pub fn close_conn_in_callback<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (a, _pa) = readable_pair();
    let (b, _pb) = readable_pair();
    let (ta, tb) = (Token(29), Token(30));
    base.add_in(a.as_fd(), ta).unwrap();
    base.add_in(b.as_fd(), tb).unwrap();
    let mut owned = [Some(OwnedFd::from(a)), Some(OwnedFd::from(b))];
    let mut victim = None;
    let seen = batch_with_two_ready(&mut base, ta, tb, |reg, other| {
        let fd = owned[usize::from(other == tb)].take().unwrap();
        reg.close_conn(fd).unwrap();
        victim = Some(other);
    });
    let victim = victim.unwrap();
    assert!(
        !seen.contains(&victim),
        "closed {victim:?} delivered: {seen:?}"
    );
    expect_quiet(&mut base, victim);
    // close_conn outside a callback too.
    let survivor = owned.iter_mut().find_map(Option::take).unwrap();
    base.close_conn(survivor).unwrap();
    assert!(collect(&mut base, Some(QUIET_FOR)).is_empty());
}

/// An event buffer of capacity 1 with three ready fds: each wait makes at most one
/// callback, and successive waits deliver all three.
pub fn capacity_one_loses_nothing<B: EventBase>(_: &Profile) {
    let mut base = B::with_capacity(NonZeroUsize::new(1).unwrap()).unwrap();
    let pairs: Vec<_> = (0..3).map(|_| readable_pair()).collect();
    for (i, (ours, _)) in pairs.iter().enumerate() {
        base.add_in(ours.as_fd(), Token(40 + i as u64)).unwrap();
    }
    let mut seen = HashSet::new();
    for _ in 0..30 {
        let batch = collect(&mut base, Some(Duration::from_millis(500)));
        assert!(batch.len() <= 1, "capacity 1 overflowed: {batch:?}");
        seen.extend(batch.into_iter().map(|(t, _)| t));
        if seen.len() == 3 {
            return;
        }
    }
    panic!("only {seen:?} of three ready fds were delivered");
}

/// Interest in one direction never reports the other: read-only interest on a
/// writable socket and write-only interest on a socket receiving data stay silent.
pub fn directions_are_filtered<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (r_only, _p1) = tcp_pair();
    base.add_in(r_only.as_fd(), Token(50)).unwrap();
    expect_quiet(&mut base, Token(50));
    let (w_only, mut p2) = tcp_pair();
    base.add_out(w_only.as_fd(), Token(51)).unwrap();
    let ready = expect(&mut base, Token(51));
    assert!(ready.is_writable() && !ready.is_readable(), "{ready:?}");
    p2.write_all(b"ignored").unwrap();
    let seen = collect(&mut base, Some(QUIET_FOR));
    assert!(
        !union_for(&seen, Token(51)).is_readable(),
        "READABLE without read interest: {seen:?}"
    );
}

/// 10,000 registered fds (5,000 socketpairs, both ends) with a handful ready: exactly
/// those report. Uses fewer pairs only if `RLIMIT_NOFILE` cannot be raised enough.
pub fn ten_thousand_fds<B: EventBase>(_: &Profile) {
    let limit = raise_nofile(20_000);
    let pairs_wanted = 5_000usize;
    let pairs_n = pairs_wanted.min((limit.saturating_sub(256) / 2) as usize);
    assert!(
        pairs_n >= 1_000,
        "RLIMIT_NOFILE {limit} is too low for this scenario"
    );
    let mut base = B::new().unwrap();
    let mut pairs = Vec::with_capacity(pairs_n);
    for i in 0..pairs_n {
        let (x, y) = UnixStream::pair().unwrap();
        x.set_nonblocking(true).unwrap();
        y.set_nonblocking(true).unwrap();
        base.add_in(x.as_fd(), Token(2 * i as u64)).unwrap();
        base.add_in(y.as_fd(), Token(2 * i as u64 + 1)).unwrap();
        pairs.push((x, y));
    }
    let chosen = [0, pairs_n / 3, pairs_n / 2, pairs_n - 2, pairs_n - 1];
    for &i in &chosen {
        (&pairs[i].0).write_all(b"!").unwrap();
    }
    let want: HashSet<Token> = chosen.iter().map(|&i| Token(2 * i as u64 + 1)).collect();
    let mut seen = HashSet::new();
    for _ in 0..20 {
        for (t, r) in collect(&mut base, Some(Duration::from_millis(500))) {
            assert!(want.contains(&t), "unexpected {t:?} {r:?}");
            assert!(r.is_readable());
            seen.insert(t);
        }
        if seen == want {
            break;
        }
    }
    assert_eq!(seen, want);
    for (x, y) in &pairs {
        base.del_conn(x.as_fd()).unwrap();
        base.del_conn(y.as_fd()).unwrap();
    }
}

/// Dropping a base with live registrations leaves the fds usable and registrable
/// with a new base.
pub fn drop_base_with_registrations<B: EventBase>(_: &Profile) {
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    {
        let mut base = B::new().unwrap();
        base.add_conn(ours.as_fd(), Token(60)).unwrap();
    }
    let mut base = B::new().unwrap();
    base.add_in(ours.as_fd(), Token(61)).unwrap();
    peer.write_all(b"x").unwrap();
    assert!(expect(&mut base, Token(61)).is_readable());
}

/// Every fd a base creates (the queue, the waker's source) is close-on-exec.
pub fn fds_are_cloexec<B: EventBase>(_: &Profile) {
    let limit = raise_nofile(20_000).min(65_536) as i32;
    let before: HashSet<_> = open_fds(limit).into_iter().collect();
    let mut base = B::new().unwrap();
    let _waker = base.waker(Token(62)).unwrap();
    let (ours, _peer) = UnixStream::pair().unwrap();
    base.add_in(ours.as_fd(), Token(63)).unwrap();
    let mut created = 0;
    for fd in open_fds(limit) {
        if before.contains(&fd) {
            continue;
        }
        // `None`: closed meanwhile by a concurrently running test.
        if let Some(cloexec) = is_cloexec(fd) {
            assert!(cloexec, "fd {fd} is not close-on-exec");
            created += 1;
        }
    }
    assert!(created >= 1, "the base created no fd at all?");
}
