//! A `hactl witness` for the two-node lab ([`crate::two_node_lab`]): run on the
//! fence_virtd host (the lab's third namespace), as the seed's design would put it on
//! the libvirt host. Set up the way an operator does: `hactl cluster witness add IP`
//! where the CA key is (it writes the witness bundle) and on both nodes, `hactl witness
//! add-cluster BUNDLE` on the witness host, then `hactl witness run`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use crate::two_node_lab::Lab;

pub const PORT: u16 = 7421;

pub struct WitnessHost {
    ns: String,
    bin: PathBuf,
    pub addr: String,
    dir: PathBuf,
    state: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Configures a witness at the fence_virtd host for the lab's cluster (not started).
pub fn add_witness(l: &Lab) -> Result<WitnessHost> {
    let c = &l.c;
    let ns_index = c.net.len() - 1; // the fence_virtd host (the last is the client)
    let addr = format!("{}:{PORT}", c.net.ip(ns_index));
    let admin = c.root.join("admin");
    let mut dirs = vec![admin.clone()];
    dirs.extend((1..=2).map(|i| c.files(i).config_dir));
    for d in &dirs {
        c.hactl(&[
            "cluster".into(),
            "--dir".into(),
            d.display().to_string(),
            "witness".into(),
            "add".into(),
            addr.clone(),
        ])?;
    }
    let root = c.root.join("witness");
    let w = WitnessHost {
        ns: c.net.ns(ns_index),
        bin: c.bin.clone(),
        addr,
        dir: root.join("etc"),
        state: root.join("lib"),
        log: root.join("witness.log"),
        child: None,
    };
    let bundle = admin.join("bundles").join("witness").join(&c.name);
    c.hactl(&[
        "witness".into(),
        "add-cluster".into(),
        "--dir".into(),
        w.dir.display().to_string(),
        bundle.display().to_string(),
    ])?;
    Ok(w)
}

impl WitnessHost {
    pub fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .args(["--log", "info", "witness", "run", "--listen", &self.addr])
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
