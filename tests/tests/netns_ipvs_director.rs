//! The whole LVS director end to end, in a real IPVS kernel: this test binary and
//! `hactl` are copied into the ipvs-vm guest (Debian's kernel under qemu,
//! `tests/ipvs-vm`), where three directors run `hactl daemon` (namespaces lv1..lv3),
//! a client (lv4) and three busybox httpd real servers (lv5..lv7) share two networks:
//! 10.0.0.0/24 (clients; the VIP 10.0.0.100) and 10.0.1.0/24 (the NAT side; the
//! floating gateway 10.0.1.100). One group `director` = VIP + gateway + `ocf:hactl:ipvs`
//! on VIP:80. `ipvsadm` in the directors' namespaces is the oracle for the kernel's
//! tables; the client's own TCP connections show what a user sees.
//!
//! In order: LVS-NAT carries requests; a killed httpd is out of the table within
//! keepalived's bound `(retry+1)·check_interval + connect_timeout` and no request fails
//! after that; restored, it is back; all down, the sorry server answers. Then `hactl
//! resource update` of the running service, applied in place (a `reload-agent` in the
//! cluster's transitions, no stop or start; the service in the kernel's table at every
//! sample and its connection counter going on): a real server removed, the one a held
//! client connection uses reweighted and the scheduler changed, then all put back; the
//! held connection finishes its request on its real server. Then TUN and DR (the real
//! servers' side by the lvs-realserver agent) carry requests, each switched to by an
//! update in place too. Last, the director holding the group loses power: the
//! VIP and the service come up on another director and every real server answers
//! through it; a client connection opened before (its entry copied to the backups by
//! the sync daemon) finishes its request on the same real server.
//!
//! The guest gets 2 vCPUs and the daemons a slower heartbeat than the default
//! profile (300 ms, lost after 3 s): three debug daemons under software emulation are
//! late by more than the default's 250 ms. `guest_bench_director_failover` (run by
//! `scripts/bench-ipvs-director`) measures the failover with sync on and off, and with
//! fencing (fence_virtd with libvirt's test driver in the guest).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hactl_tests::cluster::Cluster;
use hactl_tests::fence_virtd::{enable_fencing, FenceVirtd};

#[test]
fn netns_ipvs_director_in_a_real_lvs_kernel() {
    hactl_tests::ipvs_guest::run_guest_half(
        "director.sh",
        &release_hactl(),
        // The harness kills a daemon's process group with `kill -- -PID`, which
        // busybox's kill does not take.
        &[("/bin/kill", "/usr/bin/kill")],
        &["--smp", "2", "--mem", "2048", "--timeout", "900"],
    );
}

/// The release `hactl` next to this debug build (`scripts/test-all` builds it first:
/// `cargo build --release -p hactl`). Three debug daemons under software emulation
/// cannot finish their QUIC/TLS handshakes in time, so the cluster never settles.
fn release_hactl() -> PathBuf {
    let debug = hactl_tests::cluster::hactl_bin().expect("the hactl binary");
    let release = debug
        .parent()
        .and_then(|d| d.parent())
        .map(|t| t.join("release/hactl"))
        .expect("the target directory");
    assert!(
        release.exists(),
        "{} not found: build it first (cargo build --release -p hactl)",
        release.display()
    );
    release
}

/// Directors are cluster nodes n1..n3 (namespaces lv1..lv3); then the client and the
/// real servers (spare namespaces of the same lab, not cluster members).
const DIRECTORS: [usize; 3] = [1, 2, 3];
const CLIENT: usize = 4;
const REAL: [usize; 3] = [5, 6, 7];
/// fence_virtd's namespace, in the fenced lab only.
const FENCER: usize = 8;
const VIP: &str = "10.0.0.100";
const SERVICE: &str = "10.0.0.100:80";
/// The health-check timings (keepalived's names and meanings).
const CHECK_INTERVAL: f64 = 2.0;
const CONNECT_TIMEOUT: f64 = 1.0;
const RETRY: f64 = 1.0;

fn ns(i: usize) -> String {
    format!("lv{i}")
}

/// Real server `i`'s address on the NAT side (`nat`) or the clients' network.
fn rs_addr(i: usize, nat: bool) -> String {
    format!("10.0.{}.{i}:80", u8::from(nat))
}

fn servers(nat: bool) -> String {
    REAL.map(|i| rs_addr(i, nat)).join(" ")
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ipvsadm ARGS` in director `d`'s namespace: its stdout (panics if it fails).
fn ipvsadm(d: usize, args: &[&str]) -> String {
    let ns = ns(d);
    let mut cmd = vec!["ip", "netns", "exec", &ns, "ipvsadm"];
    cmd.extend_from_slice(args);
    run(&cmd)
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

/// One row of `ipvsadm -Ln` for the service: real server, forwarding, weight.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    addr: String,
    fwd: String,
    weight: u32,
}

/// The service in director `d`'s kernel: its scheduler and real servers (sorted);
/// None: no such service there.
fn service(d: usize) -> Option<(String, Vec<Row>)> {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns(d), "ipvsadm", "-Ln", "-t", SERVICE])
        .output()
        .expect("run ipvsadm");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `TCP  10.0.0.100:80 rr`, then `  -> 10.0.1.5:80  Masq  1  0  0` per server.
    let sched = text
        .lines()
        .find(|l| l.starts_with("TCP "))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_default()
        .to_string();
    let mut rows: Vec<Row> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Row {
                addr: f.get(1)?.to_string(),
                fwd: f.get(2)?.to_string(),
                weight: f.get(3)?.parse().ok()?,
            })
        })
        .collect();
    rows.sort();
    Some((sched, rows))
}

/// The service's real servers in director `d`'s kernel; None: no such service there.
fn table(d: usize) -> Option<Vec<Row>> {
    service(d).map(|s| s.1)
}

/// The service's connection counter in director `d`'s kernel (`ipvsadm -Ln --stats`:
/// every connection it ever scheduled; a service deleted and added again starts at 0).
fn service_conns(d: usize) -> u64 {
    let out = ipvsadm(d, &["-Ln", "--stats", "--exact", "-t", SERVICE]);
    out.lines()
        .find(|l| l.starts_with("TCP "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|c| c.parse().ok())
        .expect("the service's Conns in ipvsadm --stats")
}

/// The table as `addrs` with forwarding `fwd` at weight 1 each.
fn expect(addrs: &[String], fwd: &str) -> Vec<Row> {
    let mut v: Vec<Row> = addrs
        .iter()
        .map(|a| Row {
            addr: a.clone(),
            fwd: fwd.into(),
            weight: 1,
        })
        .collect();
    v.sort();
    v
}

fn has_vip(d: usize) -> bool {
    let out = Command::new("ip")
        .args(["-n", &ns(d), "-4", "addr", "show", "dev", "eth0"])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).contains(&format!("inet {VIP}/"))
}

/// The directors whose kernel has the service.
fn holders(alive: &[usize]) -> Vec<usize> {
    alive
        .iter()
        .copied()
        .filter(|&d| table(d).is_some())
        .collect()
}

fn vip_addr() -> SocketAddr {
    SERVICE.parse().expect("an address")
}

/// A connection from the client's namespace to the VIP.
fn connect() -> std::io::Result<TcpStream> {
    hactl_lab::in_netns(&ns(CLIENT), || {
        let s = TcpStream::connect_timeout(&vip_addr(), Duration::from_secs(1))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    })
    .map_err(std::io::Error::other)?
}

/// Finishes an HTTP/1.0 request on `s` and returns the page (which names the server).
fn finish(mut s: TcpStream, rest: &str) -> std::io::Result<String> {
    s.write_all(rest.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.trim().to_string())
        }
        _ => Err(std::io::Error::other(format!("not a 200 answer: {text:?}"))),
    }
}

/// One client request through the VIP: the page (`rs5`, `sorry`, ...).
fn get() -> std::io::Result<String> {
    finish(connect()?, "GET / HTTP/1.0\r\n\r\n")
}

/// Which servers answer `n` requests in a row (every request must succeed).
fn answers(n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|k| get().unwrap_or_else(|e| panic!("client request {k} failed: {e}")))
        .collect()
}

fn all_real() -> BTreeSet<String> {
    REAL.iter().map(|i| format!("rs{i}")).collect()
}

/// The director cluster, the client and the real servers, and the httpds.
struct Director {
    c: Cluster,
    httpd: HashMap<usize, Child>,
    sorry: Child,
    alive: Vec<usize>,
    /// With fencing: fence_virtd (libvirt's test driver, domains n1..n3) in FENCER.
    fence: Option<FenceVirtd>,
}

fn httpd(i: usize, port: u16, dir: &str) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &ns(i), "httpd", "-f", "-p"])
        .arg(port.to_string())
        .args(["-h", dir])
        .stdout(Stdio::null())
        .spawn()
        .expect("start httpd")
}

fn page(dir: &str, text: &str) {
    std::fs::create_dir_all(dir).expect("www dir");
    std::fs::write(format!("{dir}/index.html"), format!("{text}\n")).expect("index.html");
}

/// fence_virtd in FENCER (domains n1..n3, multicast routed on every namespace's
/// eth0), once it answers the C `fence_xvm`.
fn fencer(c: &Cluster) -> FenceVirtd {
    for i in 1..=FENCER {
        run(&[
            "ip",
            "-n",
            &ns(i),
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            "eth0",
        ]);
    }
    let dir = c.root.join("fence_virtd");
    std::fs::create_dir_all(&dir).expect("fence_virtd's directory");
    let mut f = FenceVirtd::start(&ns(FENCER), "eth0", &dir, &["n1", "n2", "n3"])
        .expect("start fence_virtd");
    f.wait_ready(&ns(1), "n1", Duration::from_secs(60))
        .expect("fence_virtd answers");
    f
}

impl Director {
    /// The lab and the running cluster; with `fenced`, fence_virtd in FENCER and a
    /// `fence_hactl_xvm` device (stonith action off), else stonith disabled.
    fn setup(fenced: bool) -> Director {
        let spares = if fenced { FENCER - DIRECTORS.len() } else { 4 };
        let mut c = Cluster::setup_with_spares("lv", DIRECTORS.len(), spares, "10.0.0", None)
            .expect("the lab and the cluster identity");
        c.net.add_link("10.0.1").expect("the NAT-side network");
        c.add_settings("heartbeat_interval = \"300ms\"\ndead_after = \"3s\"")
            .expect("heartbeat settings");
        for i in REAL {
            // NAT replies (from the NAT-side address) go back through the director
            // holding the gateway; DR and TUN replies (from the VIP) go straight to
            // the client.
            let me = format!("10.0.1.{i}");
            run(&[
                "ip",
                "-n",
                &ns(i),
                "rule",
                "add",
                "from",
                &me,
                "table",
                "100",
            ]);
            run(&[
                "ip",
                "-n",
                &ns(i),
                "route",
                "add",
                "default",
                "via",
                "10.0.1.100",
                "table",
                "100",
            ]);
            page(&format!("/tmp/www{i}"), &format!("rs{i}"));
        }
        page("/tmp/sorry", "sorry");
        for d in DIRECTORS {
            // LVS-NAT routes the replies through the director.
            hactl_lab::in_netns(&ns(d), || {
                std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
            })
            .expect("join the director")
            .expect("ip_forward");
        }
        let sorry = httpd(REAL[0], 8080, "/tmp/sorry");
        let pages = REAL
            .iter()
            .map(|&i| (i, httpd(i, 80, &format!("/tmp/www{i}"))))
            .collect();
        let fence = fenced.then(|| fencer(&c));
        c.start_all().expect("start the directors");
        let d = Director {
            c,
            httpd: pages,
            sorry,
            alive: DIRECTORS.to_vec(),
            fence,
        };
        d.c.wait_dc(&DIRECTORS, Duration::from_secs(90))
            .expect("the directors elect a DC");
        match &d.fence {
            Some(f) => {
                let key = f.key_path.to_str().expect("a utf-8 path");
                enable_fencing(&d.c, key, DIRECTORS.len()).expect("the fencing device");
            }
            None => {
                d.hactl(&["property", "set", "stonith-enabled=false"]);
            }
        }
        d
    }

    /// The changes the directors' logs say the CIB model rejected (the cluster's
    /// own proposals should never be).
    fn print_rejected(&self) {
        for i in DIRECTORS {
            for l in self.c.log(i).lines().filter(|l| l.contains("rejected")) {
                println!("n{i}: {l}");
            }
        }
    }

    /// `hactl` through a live director's control socket.
    fn hactl(&self, args: &[&str]) -> String {
        let sock = self.c.files(self.alive[0]).socket;
        let out = Command::new(&self.c.bin)
            .args(args)
            .env("HACTL_SOCKET", &sock)
            .output()
            .expect("run hactl");
        assert!(
            out.status.success(),
            "hactl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The group: VIP, NAT gateway, and the service with the health-check timings.
    fn create_group(&self, forward: &str, nat: bool, sync: bool) {
        self.hactl(&[
            "resource",
            "create",
            "vip",
            "ocf:hactl:VIP",
            "ip=10.0.0.100",
            "cidr_netmask=24",
            "op",
            "stop",
            "timeout=5s",
            "--group",
            "director",
        ]);
        self.hactl(&[
            "resource",
            "create",
            "gw",
            "ocf:hactl:VIP",
            "ip=10.0.1.100",
            "cidr_netmask=24",
            "op",
            "stop",
            "timeout=5s",
            "--group",
            "director",
        ]);
        let mut args: Vec<String> = [
            "resource",
            "create",
            "--wait=120s",
            "web",
            "ocf:hactl:ipvs",
            "vip=10.0.0.100",
            "port=80",
            "scheduler=rr",
            "sorry_server=10.0.1.5:8080",
            "check=tcp",
            "retry=1",
            "delay_before_retry=0.5",
        ]
        .map(str::to_string)
        .into();
        args.push(format!("forward={forward}"));
        args.push(format!("real_servers={}", servers(nat)));
        args.push(format!("check_interval={CHECK_INTERVAL}"));
        args.push(format!("connect_timeout={CONNECT_TIMEOUT}"));
        if sync {
            args.extend(["sync_interface=eth1", "sync_id=7"].map(str::to_string));
        }
        // Short stop timeouts: without fencing, the DC holds a lost director's
        // resources for as long as it could take to stop them (their stop timeouts,
        // 20 s each by default) before starting them elsewhere.
        args.extend(["op", "stop", "timeout=5s", "--group", "director"].map(str::to_string));
        self.hactl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// The one director holding the service, once it shows `want`.
    fn wait_table(&self, what: &str, want: &[Row]) -> (usize, Duration) {
        let mut at = 0;
        let took = wait_for(what, Duration::from_secs(60), || {
            match holders(&self.alive).as_slice() {
                [h] if table(*h).as_deref() == Some(want) => {
                    at = *h;
                    true
                }
                _ => false,
            }
        });
        (at, took)
    }

    fn kill_httpd(&mut self, i: usize) {
        let mut child = self.httpd.remove(&i).expect("that httpd runs");
        child.kill().expect("kill httpd");
        child.wait().expect("reap httpd");
    }

    fn restore_httpd(&mut self, i: usize) {
        self.httpd.insert(i, httpd(i, 80, &format!("/tmp/www{i}")));
    }

    /// The real servers' side for DR or TUN (`mode`), by the lvs-realserver agent run in
    /// each real server's namespace; `action` start or stop.
    fn realservers(&self, action: &str, mode: &str) {
        for i in REAL {
            let params: HashMap<String, String> = [("vip", VIP), ("mode", mode)]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into();
            let dir = PathBuf::from(format!("/tmp/rsc{i}"));
            std::fs::create_dir_all(&dir).expect("HA_RSCTMP");
            let action = action.to_string();
            let instance = format!("web-{mode}");
            let out = hactl_lab::in_netns(&ns(i), move || {
                hactl_agent_ipvs::realserver::run(&action, &instance, &params, &dir)
            })
            .expect("join the real server");
            assert_eq!(
                out.rc, 0,
                "lvs-realserver {mode} on rs{i}: {:?}",
                out.exit_reason
            );
        }
    }

    /// The holder loses power: its links go down first (it stops forwarding at once),
    /// then every process of the node dies; its kernel state is unreachable.
    fn power_off(&mut self, d: usize) {
        for eth in ["eth0", "eth1"] {
            run(&["ip", "-n", &ns(d), "link", "set", eth, "down"]);
        }
        self.c.kill(d);
        hactl_lab::kill_netns_processes(&ns(d), Duration::from_millis(500));
        self.alive.retain(|&x| x != d);
    }
}

#[derive(Debug)]
struct Failover {
    /// Power off → the VIP and the service (all real servers) up on another director.
    takeover: Duration,
    /// The longest time without a successful client request (one every 100 ms).
    outage: Duration,
    /// Connections opened before the failover that finish their request after it.
    survived: usize,
    conns: usize,
    answered: BTreeSet<String>,
    /// With fencing: whether the old holder's domain is off in fence_virtd after.
    fenced_off: Option<bool>,
}

/// Requests through the VIP every 100 ms until stopped: (when, succeeded).
fn poll_clients(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<(Instant, bool)>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            seen.push((t, get().is_ok()));
            std::thread::sleep(Duration::from_millis(100).saturating_sub(t.elapsed()));
        }
        seen
    })
}

/// The longest gap between successful requests.
fn longest_gap(seen: &[(Instant, bool)]) -> Duration {
    let ok: Vec<Instant> = seen.iter().filter(|s| s.1).map(|s| s.0).collect();
    ok.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
}

/// Client connections from the client's namespace in the backups' connection tables
/// (`ipvsadm -Lnc`: what the sync daemon copied there), per backup.
fn synced(backups: &[usize], ports: &[u16]) -> bool {
    backups.iter().all(|&d| {
        let out = ipvsadm(d, &["-Lnc"]);
        ports
            .iter()
            .all(|p| out.contains(&format!("10.0.0.{CLIENT}:{p} ")))
    })
}

/// Opens `conns` long-lived connections (requests not finished), kills the holder of
/// the DR service, and measures the takeover, the client-observed outage and which
/// connections still finish their request.
fn failover(d: &mut Director, sync: bool, conns: usize) -> Failover {
    let want = expect(&REAL.map(|i| rs_addr(i, false)), "Route");
    let (holder, _) = d.wait_table("the DR service on one director", &want);
    let mut open: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let mut s = connect().expect("a long-lived connection");
            // The request line and a header: the httpd waits for the rest (60 s).
            s.write_all(b"GET / HTTP/1.0\r\nX-Before: 1\r\n")
                .expect("write");
            s
        })
        .collect();
    let backups: Vec<usize> = d.alive.iter().copied().filter(|&x| x != holder).collect();
    if sync {
        let ports: Vec<u16> = open
            .iter()
            .map(|s| s.local_addr().expect("local address").port())
            .collect();
        let took = wait_for(
            "the connections synced to the backups",
            Duration::from_secs(30),
            || synced(&backups, &ports),
        );
        println!("connections in the backups' tables after {took:?}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_clients(stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    d.power_off(holder);
    println!("director n{holder} powered off");
    let mut new = 0;
    wait_for(
        "the VIP and the service on another director",
        Duration::from_secs(120),
        || match backups
            .iter()
            .find(|&&b| has_vip(b) && table(b).as_deref() == Some(&want[..]))
        {
            Some(&b) => {
                new = b;
                true
            }
            None => false,
        },
    );
    let takeover = t0.elapsed();
    println!("n{new} holds the VIP and the service {takeover:?} after the power-off");
    let fenced_off = d.fence.as_ref().map(|f| {
        let st = f.status_from(&ns(new), &format!("n{holder}"));
        st.expect("run fence_xvm") == Some(false)
    });
    // First the long-lived requests (the httpd waits 60 s for the rest of a request).
    let survived = open
        .drain(..)
        .map(|s| finish(s, "X-After: 1\r\n\r\n"))
        .inspect(|r| println!("long-lived connection: {r:?}"))
        .filter(|r| r.as_ref().is_ok_and(|b| b.starts_with("rs")))
        .count();
    // Clients get through again (or the poller's record shows they never did).
    let back = wait_for("a client request succeeds", Duration::from_secs(30), || {
        get().is_ok()
    });
    println!("client requests succeed {back:?} later");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let seen = poller.join().expect("poller");
    Failover {
        takeover,
        outage: longest_gap(&seen),
        survived,
        conns,
        answered: answers(6),
        fenced_off,
    }
}

fn nat_health_and_sorry(d: &mut Director) {
    let nat = expect(&REAL.map(|i| rs_addr(i, true)), "Masq");
    let (h, took) = d.wait_table("the NAT service with three real servers", &nat);
    println!("NAT service on n{h} after {took:?}");
    assert!(has_vip(h), "the service's director has no VIP");
    assert_eq!(
        answers(6),
        all_real(),
        "LVS-NAT: not every real server answers"
    );

    // One httpd dies: out of the table within keepalived's bound.
    let bound = Duration::from_secs_f64((RETRY + 1.0) * CHECK_INTERVAL + CONNECT_TIMEOUT);
    d.kill_httpd(REAL[1]);
    let out = wait_for("rs6 out of the table", Duration::from_secs(30), || {
        table(h).is_some_and(|t| t.iter().all(|r| r.addr != rs_addr(REAL[1], true)))
    });
    println!("rs6 out of rotation {out:?} after its httpd was killed (bound {bound:?})");
    assert!(
        out <= bound,
        "rs6 left the table after {out:?}, bound {bound:?}"
    );
    let others: BTreeSet<String> = ["rs5", "rs7"].map(String::from).into();
    assert_eq!(
        answers(9),
        others,
        "after rs6 left, a request failed or reached it"
    );

    d.restore_httpd(REAL[1]);
    let took = d.wait_table("rs6 back in the table", &nat).1;
    println!("rs6 back in the table {took:?} after its httpd restarted");
    assert_eq!(answers(6), all_real(), "rs6 is not back in rotation");

    // All down: the sorry server answers.
    for i in REAL {
        d.kill_httpd(i);
    }
    let sorry = expect(&["10.0.1.5:8080".to_string()], "Masq");
    let took = d.wait_table("only the sorry server in the table", &sorry).1;
    println!("sorry server in the table {took:?} after all httpds died");
    assert_eq!(answers(3), BTreeSet::from(["sorry".to_string()]));
    for i in REAL {
        d.restore_httpd(i);
    }
    d.wait_table("the three real servers back, the sorry server gone", &nat);
    assert_eq!(answers(6), all_real());
}

/// The id of the newest transition the DC recorded (0: none yet).
fn last_transition(d: &Director) -> u64 {
    let cib = d.c.cib(d.alive[0]).expect("read the CIB");
    cib.status
        .transitions
        .iter()
        .map(|t| t.id)
        .max()
        .unwrap_or(0)
}

/// The tasks the DC ran on `rsc` in the transitions after `after`.
fn tasks_since(d: &Director, after: u64, rsc: &str) -> Vec<String> {
    let cib = d.c.cib(d.alive[0]).expect("read the CIB");
    cib.status
        .transitions
        .iter()
        .filter(|t| t.id > after)
        .flat_map(|t| t.actions.iter())
        .filter(|a| a.rsc.as_deref() == Some(rsc))
        .map(|a| a.task.clone())
        .collect()
}

/// Samples director `h`'s kernel table until stopped: (samples, samples without the
/// service).
fn watch_service(h: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(usize, usize)> {
    std::thread::spawn(move || {
        let (mut seen, mut absent) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            seen += 1;
            absent += usize::from(table(h).is_none());
            // Leaves the guest's 2 vCPUs to the daemons between samples.
            std::thread::sleep(Duration::from_millis(20));
        }
        (seen, absent)
    })
}

/// `hactl resource update web PARAMS` on the running service must apply in place:
/// the kernel's table becomes `want` with scheduler `sched` on the same director, the
/// service is in the kernel's table at every sample meanwhile, its connection counter
/// goes on (a service deleted and added again starts at 0), and the cluster's
/// transitions show a `reload-agent` of web and no stop or start of any member of the
/// group.
fn update_in_place(d: &Director, params: &[String], want: &[Row], sched: &str) {
    let h = holder(d);
    let conns = service_conns(h);
    let after = last_transition(d);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_service(h, stop.clone());
    let mut args = vec!["resource", "update", "--wait=60s", "web"];
    args.extend(params.iter().map(String::as_str));
    d.hactl(&args);
    let took = wait_for("the updated table", Duration::from_secs(30), || {
        service(h).is_some_and(|(s, rows)| s == sched && rows == want)
    });
    let mut tasks = Vec::new();
    wait_for("the reload recorded", Duration::from_secs(30), || {
        tasks = tasks_since(d, after, "web");
        tasks.iter().any(|t| t == "reload-agent")
            || tasks.iter().any(|t| t == "stop" || t == "start")
    });
    stop.store(true, Ordering::Relaxed);
    let (seen, absent) = watcher.join().expect("the table watcher");
    println!("update {params:?}: n{h} shows it {took:?} after the update returned; web ran {tasks:?}; {seen} samples of the table");
    assert!(
        tasks.iter().any(|t| t == "reload-agent")
            && !tasks.iter().any(|t| t == "stop" || t == "start"),
        "web was not reloaded in place: {tasks:?}"
    );
    for member in ["vip", "gw"] {
        let t = tasks_since(d, after, member);
        assert!(
            !t.iter().any(|t| t == "stop" || t == "start"),
            "{member} restarted by web's update: {t:?}"
        );
    }
    assert_eq!(
        absent, 0,
        "the service was missing from the table in {absent} of {seen} samples"
    );
    assert_eq!(holders(&d.alive), [h], "the service moved");
    let now = service_conns(h);
    assert!(
        now >= conns,
        "the service's counter went from {conns} to {now}: it was recreated"
    );
}

/// The one director holding the service.
fn holder(d: &Director) -> usize {
    match holders(&d.alive).as_slice() {
        [h] => *h,
        other => panic!("the service is on {other:?}, not on one director"),
    }
}

/// The real server a client connection from local port `port` is scheduled to, in
/// director `h`'s connection table (`ipvsadm -Lnc`: `TCP 00:59 ESTABLISHED
/// client vip real`).
fn scheduled_to(h: usize, port: u16) -> Option<String> {
    let out = ipvsadm(h, &["-Lnc"]);
    let client = format!("10.0.0.{CLIENT}:{port}");
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(3) == Some(&client.as_str()))
        .and_then(|f| f.get(5).map(|r| r.to_string()))
}

/// Real servers as the agent's `real_servers` takes them, with their weights.
fn real_servers(rows: &[(String, u32)]) -> String {
    let v: Vec<String> = rows
        .iter()
        .map(|(a, w)| format!("{a},weight={w}"))
        .collect();
    format!("real_servers={}", v.join(" "))
}

/// While a client connection is held open through the NAT service, the cluster
/// removes a real server, reweights the connection's one and changes the scheduler,
/// in place, and the connection then finishes its request on its real server (at
/// once: busybox httpd gives up on a request after 60 s); then everything is put
/// back, in place too.
fn update_nat_in_place(d: &Director) {
    let mut held = connect().expect("a long-lived connection");
    held.write_all(b"GET / HTTP/1.0\r\nX-Before: 1\r\n")
        .expect("write");
    let port = held.local_addr().expect("local address").port();
    let h = holder(d);
    let mut to = None;
    wait_for(
        "the held connection in the table",
        Duration::from_secs(10),
        || {
            to = scheduled_to(h, port);
            to.is_some()
        },
    );
    let to = to.expect("its real server");
    let others: Vec<String> = REAL
        .map(|i| rs_addr(i, true))
        .into_iter()
        .filter(|a| *a != to)
        .collect();
    println!("held connection {port} on {to}; removing {}", others[1]);
    let kept = [(to.clone(), 3), (others[0].clone(), 1)];
    let mut want: Vec<Row> = kept
        .iter()
        .map(|(a, w)| Row {
            addr: a.clone(),
            fwd: "Masq".into(),
            weight: *w,
        })
        .collect();
    want.sort();
    update_in_place(
        d,
        &[real_servers(&kept), "scheduler=wrr".into()],
        &want,
        "wrr",
    );
    let page = finish(held, "X-After: 1\r\n\r\n").expect("the held connection's answer");
    let server = REAL
        .iter()
        .find(|&&i| rs_addr(i, true) == to)
        .expect("a real server");
    assert_eq!(
        page,
        format!("rs{server}"),
        "the held connection changed server"
    );
    let nat = expect(&REAL.map(|i| rs_addr(i, true)), "Masq");
    update_in_place(
        d,
        &[
            format!("real_servers={}", servers(true)),
            "scheduler=rr".into(),
        ],
        &nat,
        "rr",
    );
    assert_eq!(
        answers(6),
        all_real(),
        "not every real server answers after the updates"
    );
}

/// Switches the service to `fwd` (`tun`/`dr`) with the real servers on the clients'
/// network, in place (`update_in_place`), and checks every real server answers
/// through it.
fn switch_to(d: &Director, fwd: &str, shown: &str) {
    let want = expect(&REAL.map(|i| rs_addr(i, false)), shown);
    update_in_place(
        d,
        &[
            format!("forward={fwd}"),
            format!("real_servers={}", servers(false)),
        ],
        &want,
        "rr",
    );
    assert_eq!(
        answers(6),
        all_real(),
        "LVS-{fwd}: not every real server answers"
    );
}

/// Runs inside the guest only (`tests/guest/director.sh` sets HACTL_IN_GUEST).
#[test]
#[ignore = "runs inside the ipvs-vm guest"]
fn guest_ipvs_director() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    let mut d = Director::setup(false);
    d.create_group("nat", true, true);
    nat_health_and_sorry(&mut d);
    update_nat_in_place(&d);

    d.realservers("start", "tun");
    switch_to(&d, "tun", "Tunnel");
    d.realservers("stop", "tun");
    d.realservers("start", "dr");
    switch_to(&d, "dr", "Route");

    let f = failover(&mut d, true, 1);
    println!("failover with connection sync: {f:?}");
    assert_eq!(
        f.survived, 1,
        "the long-lived connection did not survive the failover"
    );
    assert_eq!(
        f.answered,
        all_real(),
        "not every real server answers after the failover"
    );
    d.sorry.kill().ok();
    d.print_rejected();
}

/// The director failover benchmark, inside the guest (`scripts/bench-ipvs-director`):
/// `HACTL_BENCH_TRIALS` rounds, each a fresh cluster per mode in
/// `HACTL_BENCH_MODES` (comma-separated; default `on,off`): `on`/`off` connection
/// sync with stonith disabled, `fence` sync on with fencing (fence_virtd in the
/// guest). A DR group, 5 long-lived connections per failover.
#[test]
#[ignore = "a benchmark, runs inside the ipvs-vm guest"]
fn guest_bench_director_failover() {
    assert_eq!(std::env::var("HACTL_IN_GUEST").as_deref(), Ok("1"));
    let trials: usize = std::env::var("HACTL_BENCH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    let modes = std::env::var("HACTL_BENCH_MODES").unwrap_or_else(|_| "on,off".into());
    let mut rows = Vec::new();
    for trial in 1..=trials {
        for mode in modes.split(',') {
            let (sync, fenced) = match mode {
                "on" => (true, false),
                "off" => (false, false),
                "fence" => (true, true),
                other => panic!("unknown mode {other:?}: on, off or fence"),
            };
            let mut d = Director::setup(fenced);
            d.realservers("start", "dr");
            d.create_group("dr", false, sync);
            let f = failover(&mut d, sync, 5);
            d.print_rejected();
            d.realservers("stop", "dr");
            d.sorry.kill().ok();
            println!("trial {trial} mode={mode}: {f:?}");
            assert_ne!(f.fenced_off, Some(false), "the old holder was not fenced");
            rows.push((trial, mode.to_string(), f));
        }
    }
    println!("| trial | mode | takeover | client outage | connections surviving |");
    println!("| --- | --- | --- | --- | --- |");
    for (trial, mode, f) in &rows {
        println!(
            "| {trial} | {mode} | {:.2} s | {:.2} s | {} of {} |",
            f.takeover.as_secs_f64(),
            f.outage.as_secs_f64(),
            f.survived,
            f.conns
        );
    }
    for mode in modes.split(',') {
        let of = |get: fn(&Failover) -> Duration| {
            let mut v: Vec<f64> = rows
                .iter()
                .filter(|r| r.1 == mode)
                .map(|r| get(&r.2).as_secs_f64())
                .collect();
            v.sort_by(f64::total_cmp);
            let median = if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            };
            (v.len(), median, v.last().copied().unwrap_or_default())
        };
        let (n, tm, tx) = of(|f| f.takeover);
        let (_, om, ox) = of(|f| f.outage);
        let surv: usize = rows
            .iter()
            .filter(|r| r.1 == mode)
            .map(|r| r.2.survived)
            .sum();
        let conns: usize = rows.iter().filter(|r| r.1 == mode).map(|r| r.2.conns).sum();
        println!(
            "mode {mode}: {n} trials, takeover median {tm:.2} s max {tx:.2} s; \
             outage median {om:.2} s max {ox:.2} s; {surv} of {conns} connections survived"
        );
    }
}
