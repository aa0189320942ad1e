//! A `hactl witness` for the two-node lab ([`crate::two_node_lab`]): run on the
//! fence_virtd host (the lab's third namespace), as the seed's design would put it on
//! the libvirt host. Set up the way an operator does: `hactl cluster witness add IP`
//! where the CA key is (it writes the witness bundle) and on both nodes, `hactl witness
//! add-cluster BUNDLE` on the witness host, then `hactl witness run`.
//!
//! One witness can serve the cluster of a second lab too ([`WitnessHost::serve_too`]):
//! its host gets a leg into that lab's switch, as a witness host on two networks would.
//!
//! [`add_witness_for`] sets one up for any [`Cluster`] (the four-node test).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, Context, Result};

use crate::cluster::Cluster;
use crate::two_node_lab::{Lab, T};

pub const PORT: u16 = 7421;

/// The witness host's address on the switch of a lab it joins with
/// [`WitnessHost::serve_too`] (the two-node lab's namespaces are .1 to .4).
pub const LEG_HOST: u8 = 250;

pub struct WitnessHost {
    ns: String,
    bin: PathBuf,
    /// The address the first cluster knows it by.
    pub addr: String,
    /// What it listens on: `addr`, or every address once it serves a second lab.
    listen: String,
    /// Legs into other labs' switches so far.
    legs: usize,
    dir: PathBuf,
    state: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Configures a witness at the fence_virtd host for the lab's cluster (not started).
pub fn add_witness(l: &Lab) -> Result<WitnessHost> {
    let c = &l.c;
    let ns_index = c.net.len() - 1; // the fence_virtd host (the last is the client)
    add_witness_for(c, ns_index, 2)
}

/// As an operator does: `hactl cluster witness add ADDR` where the CA key is (it
/// writes the witness bundle) and on nodes 1..=`nodes`, then `hactl witness
/// add-cluster BUNDLE` into the witness's `--dir`.
fn install(c: &Cluster, nodes: usize, addr: &str, witness_dir: &Path) -> Result<()> {
    let admin = c.root.join("admin");
    let mut dirs = vec![admin.clone()];
    dirs.extend((1..=nodes).map(|i| c.files(i).config_dir));
    for d in &dirs {
        c.hactl(&[
            "cluster".into(),
            "--dir".into(),
            d.display().to_string(),
            "witness".into(),
            "add".into(),
            addr.to_string(),
        ])?;
    }
    let bundle = admin.join("bundles").join("witness").join(&c.name);
    c.hactl(&[
        "witness".into(),
        "add-cluster".into(),
        "--dir".into(),
        witness_dir.display().to_string(),
        bundle.display().to_string(),
    ])?;
    Ok(())
}

impl WitnessHost {
    /// Serves lab `l`'s cluster too (before [`WitnessHost::start`]): the witness host
    /// gets a leg into `l`'s switch at `SUBNET.250` (a veth, as a host with a second
    /// network card), `l`'s cluster is set up for the witness there as an operator does,
    /// and the witness listens on every address: one UDP port for all its clusters.
    /// `l`'s cluster needs a name of its own ([`Cluster::rename`]). Returns the address
    /// `l`'s nodes know the witness by.
    pub fn serve_too(&mut self, l: &Lab) -> Result<String> {
        let c = &l.c;
        let subnet = c
            .net
            .ip(1)
            .rsplit_once('.')
            .map(|(s, _)| s.to_string())
            .ok_or_else(|| anyhow!("lab address {} has no subnet", c.net.ip(1)))?;
        self.legs += 1;
        let (eth, port) = (format!("ethw{}", self.legs), format!("vw{}", self.legs));
        hactl_lab::add_port(
            &c.net.switch(),
            "br0",
            &self.ns,
            &eth,
            &port,
            None,
            &format!("{subnet}.{LEG_HOST}/24"),
        )?;
        let addr = format!("{subnet}.{LEG_HOST}:{PORT}");
        install(c, 2, &addr, &self.dir)?;
        self.listen = format!("0.0.0.0:{PORT}");
        Ok(addr)
    }

    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .args(["--log", "info", "witness", "run", "--listen", &self.listen])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--state-dir")
            .arg(&self.state)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting hactl witness")?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// kill -9, as a crash or a power cut of the witness host would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WitnessHost {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The witness as node `i` of lab `l` reports it: (reachable, holder).
pub fn witness_seen(l: &Lab, i: usize) -> Result<(bool, String)> {
    let s = l.c.status(i)?;
    let w = s
        .witness
        .ok_or_else(|| anyhow!("n{i} of {} reports no witness", l.c.name))?;
    Ok((w.reachable, w.holder))
}

/// Waits until the nodes `nodes` of lab `l` see the witness reachable with `holder`
/// ("" none).
pub fn wait_witness(l: &Lab, nodes: &[usize], holder: &str) -> Result<()> {
    let what = format!("{}: the witness seen holding {holder:?}", l.c.name);
    l.c.wait_seeing(&what, T, || {
        let mut seen = Vec::new();
        for &i in nodes {
            let w = witness_seen(l, i)?;
            if w != (true, holder.to_string()) {
                seen.push(format!("n{i}: {w:?}"));
            }
        }
        Ok(if seen.is_empty() {
            Ok(())
        } else {
            Err(seen.join(", "))
        })
    })
}

/// A witness at namespace `host` (a spare of `c`, not a member) for `c`'s cluster of
/// `nodes` nodes, set up as [`add_witness`] does (not started).
pub fn add_witness_for(c: &Cluster, host: usize, nodes: usize) -> Result<WitnessHost> {
    let addr = format!("{}:{PORT}", c.net.ip(host));
    let root = c.root.join("witness");
    let w = WitnessHost {
        ns: c.net.ns(host),
        bin: c.bin.clone(),
        addr: addr.clone(),
        listen: addr.clone(),
        legs: 0,
        dir: root.join("etc"),
        state: root.join("lib"),
        log: root.join("witness.log"),
        child: None,
    };
    install(c, nodes, &addr, &w.dir)?;
    Ok(w)
}
