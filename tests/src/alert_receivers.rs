//! Real receivers for Pacemaker's SNMP and SMTP sample alert agents, run inside one
//! of the lab's namespaces and killed on drop:
//!
//! * `snmptrapd` (Debian `snmptrapd`), any community accepted, every trap logged to
//!   a file with PACEMAKER-MIB names. `alert_snmp.sh.sample` sends with `snmptrap`
//!   (Debian `snmp`) and PACEMAKER-MIB's names, which net-snmp resolves only with the
//!   IETF modules that MIB imports (SNMPv2-SMI, SNMPv2-TC, ...): Debian ships those
//!   as text only in `erlang-snmp` ([`ietf_mib_dir`]).
//! * an SMTP server (Debian `python3-aiosmtpd`, its `Debugging` handler printing each
//!   message) for `alert_smtp.sh.sample`, which pipes to `sendmail -t`: `esmtp-run`'s
//!   sendmail relays to the host named in `$HOME/.esmtprc` ([`esmtprc`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// PACEMAKER-MIB, from pacemaker-common.
pub const PACEMAKER_MIB_DIR: &str = "/usr/share/snmp/mibs";

/// A receiver process in a namespace and the file it writes what it receives to.
pub struct Receiver {
    child: Child,
    pub log: PathBuf,
    /// Where the agents send to: `ip:port`.
    pub addr: String,
}

impl Receiver {
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory of erlang-snmp's MIB sources (its version is in the path).
pub fn ietf_mib_dir() -> Result<PathBuf> {
    let lib = Path::new("/usr/lib/erlang/lib");
    let entries = std::fs::read_dir(lib)
        .with_context(|| format!("{}: install erlang-snmp", lib.display()))?;
    for e in entries.flatten() {
        let mibs = e.path().join("mibs");
        if e.file_name().to_string_lossy().starts_with("snmp-")
            && mibs.join("SNMPv2-SMI.mib").exists()
        {
            return Ok(mibs);
        }
    }
    bail!(
        "no SNMPv2-SMI.mib under {}: install erlang-snmp",
        lib.display()
    )
}

/// The MIB search path (`-M`) for PACEMAKER-MIB and what it imports.
pub fn mib_path() -> Result<String> {
    Ok(format!("{PACEMAKER_MIB_DIR}:{}", ietf_mib_dir()?.display()))
}

/// `snmptrapd` in `ns` on udp `ip:port`, logging to `dir/traps.log`.
pub fn snmptrapd(ns: &str, ip: &str, port: u16, dir: &Path) -> Result<Receiver> {
    let conf = dir.join("snmptrapd.conf");
    std::fs::write(&conf, "disableAuthorization yes\n")?;
    let log = dir.join("traps.log");
    let addr = format!("{ip}:{port}");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "snmptrapd", "-f", "-C", "-c"])
        .arg(&conf)
        .arg("-Lf")
        .arg(&log)
        .args(["-m", "PACEMAKER-MIB", "-M", &mib_path()?])
        .arg(format!("--persistentDir={}", dir.join("trapd").display()))
        .arg(format!("udp:{addr}"));
    spawn(
        cmd,
        ns,
        "-u",
        port,
        log,
        addr,
        "snmptrapd (install snmptrapd)",
    )
}

/// An SMTP server in `ns` on `ip:port`, printing each message to `dir/smtp.out`.
pub fn smtpd(ns: &str, ip: &str, port: u16, dir: &Path) -> Result<Receiver> {
    let log = dir.join("smtp.out");
    let out = std::fs::File::create(&log)?;
    let addr = format!("{ip}:{port}");
    let mut cmd = Command::new("ip");
    // Debian's python3, whatever python3 comes first on PATH.
    cmd.args([
        "netns",
        "exec",
        ns,
        "/usr/bin/python3",
        "-u",
        "-m",
        "aiosmtpd",
    ])
    .args(["-n", "-l", &addr, "-c", "aiosmtpd.handlers.Debugging"])
    .stdout(out.try_clone()?)
    .stderr(out);
    spawn(
        cmd,
        ns,
        "-t",
        port,
        log,
        addr,
        "aiosmtpd (install python3-aiosmtpd)",
    )
}

/// Writes `home/.esmtprc` sending all mail to `addr`: the sendmail of `esmtp-run`
/// reads it from `$HOME`, which the alert passes to its agent as an option.
pub fn esmtprc(home: &Path, addr: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(home)?;
    let rc = home.join(".esmtprc");
    std::fs::write(&rc, format!("hostname={addr}\n"))?;
    // esmtp refuses a configuration others can read (it may hold a password).
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Starts `cmd` and waits until `ns` has a socket listening on `port` (`ss` `-u`
/// or `-t`), so no message sent after this returns is lost.
fn spawn(
    mut cmd: Command,
    ns: &str,
    proto: &str,
    port: u16,
    log: PathBuf,
    addr: String,
    what: &str,
) -> Result<Receiver> {
    let child = cmd.stdin(Stdio::null()).spawn().context(what.to_string())?;
    let mut r = Receiver { child, log, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = r.child.try_wait()? {
            bail!("{what} exited ({st}):\n{}", r.text());
        }
        let ss = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hln", proto])
            .arg(format!("sport = :{port}"))
            .output()?;
        if !String::from_utf8_lossy(&ss.stdout).trim().is_empty() {
            return Ok(r);
        }
        if Instant::now() > deadline {
            bail!("{what} not listening on {port} after 20 s:\n{}", r.text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
