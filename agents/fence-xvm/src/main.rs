//! `fence_hactl_xvm`: a drop-in for `fence_xvm` speaking the FenceAgentAPI, built on
//! hactl-fence's native client.
//!
//! With no arguments it reads `name=value` lines from stdin (as Pacemaker runs fence
//! agents); otherwise it takes fence_xvm's options (`-o action -H domain -k keyfile
//! -c hash -C auth -a mcast-addr -p port -i family -t timeout -r retrans -w delay`).
//! Exit codes: 0 success (status: ON), 1 failure, 2 status OFF, 3 permission denied.
//!
//! Unlike fence_xvm, every wait is bounded by the timeout (also with `-t 1`), the
//! call-back port is a free one per operation, and `monitor` really checks fence_virtd:
//! it lists the domains and, if domains are given with `plug`/`port` (comma-separated),
//! checks that each is known and answers a status request.

use hactl_fence::xvm::inproc::{self, Problem};
use hactl_fence::xvm::options::{Action, OptionError, SetOutcome, METADATA};
use hactl_fence::xvm::{XvmError, XvmOptions};
use std::io::BufRead;
use std::process::ExitCode;

const USAGE: &str = "usage: fence_hactl_xvm [options]
  -o ACTION   null, on, off, reboot (default), status, monitor, list, list-status,
              metadata, validate-all
  -H DOMAIN   domain name or UUID (also -n)
  -k FILE     key file (default /etc/cluster/fence_xvm.key)
  -c HASH     request hash: none, sha1, sha256 (default), sha512
  -C HASH     challenge/response hash (default sha256)
  -a ADDR     multicast address (default 225.0.0.12 / ff05::3:1)
  -p PORT     multicast port (default 1229)
  -i FAMILY   auto, ipv4, ipv6
  -t SECONDS  timeout (default 30)
  -r DECISEC  retransmit interval (default 20)
  -w SECONDS  delay before off/on/reboot
  -u          domain is a UUID
  -d          debug output
  -V          version
With no options, name=value lines are read from standard input.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = XvmOptions::default();
    let parsed = if args.is_empty() {
        parse_stdin(&mut opts)
    } else {
        match parse_args(&args, &mut opts) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::SUCCESS, // -V / -h
            Err(e) => Err(e),
        }
    };
    if let Err(e) = parsed {
        println!("{e}");
        return ExitCode::from(1);
    }
    match opts.action {
        Action::Metadata => {
            print!("{METADATA}");
            return ExitCode::SUCCESS;
        }
        Action::ValidateAll => {
            return match opts.client_config() {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    println!("{e}");
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    if opts.action.needs_domain() && opts.domain.as_deref().unwrap_or("").is_empty() {
        println!("No domain specified!");
        println!("{USAGE}");
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(255);
        }
    };
    rt.block_on(run(&opts))
}

async fn run(opts: &XvmOptions) -> ExitCode {
    if opts.debug {
        eprintln!(
            "fence_hactl_xvm: action {:?} domain {:?} group {} port {} hash {} auth {} timeout {}s",
            opts.action,
            opts.domain,
            opts.group(),
            opts.ipport,
            opts.hash,
            opts.auth,
            opts.timeout
        );
    }
    let domain = opts.domain.clone().unwrap_or_default();
    // monitor takes a comma-separated list of domains to check.
    let (target, check): (&str, Vec<String>) = if opts.action == Action::Monitor {
        let list = domain
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect();
        ("", list)
    } else {
        (domain.as_str(), Vec::new())
    };
    match inproc::execute(opts, target, &check).await {
        Ok((code, stdout)) => {
            print!("{stdout}");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Err(Problem::Usage(msg)) => {
            println!("{msg}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("fence_hactl_xvm: {e}");
            if let Problem::Xvm(XvmError::PermissionDenied { .. }) = e {
                println!("Permission denied");
                ExitCode::from(3)
            } else {
                println!("Operation failed");
                ExitCode::from(1)
            }
        }
    }
}

/// name=value lines, as Pacemaker writes them. Whitespace around names and values is
/// trimmed (fence_xvm cuts the line at the first blank and then runs its default
/// action, reboot; we do not repeat that trap).
fn parse_stdin(opts: &mut XvmOptions) -> Result<(), OptionError> {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (line, ""),
        };
        if value.is_empty() {
            eprintln!("Parse error: Ignoring option '{name}' without a value");
            continue;
        }
        if opts.set(name, value)? == SetOutcome::Unknown {
            eprintln!("Parse error: Ignoring unknown option '{name}'");
        }
    }
    Ok(())
}

/// fence_xvm's getopt letters. Returns Ok(false) when it only printed help/version.
fn parse_args(args: &[String], opts: &mut XvmOptions) -> Result<bool, OptionError> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(flag) = a.strip_prefix('-').and_then(|f| f.chars().next()) else {
            return Err(OptionError::Value {
                name: "argument".into(),
                value: a.clone(),
                why: format!("unexpected\n{USAGE}"),
            });
        };
        let name = match flag {
            'o' => "action",
            'H' | 'n' => "port",
            'k' => "key_file",
            'a' => "multicast_address",
            'p' => "ipport",
            'i' => "ip_family",
            'r' => "retrans",
            'c' => "hash",
            'C' => "auth",
            't' => "timeout",
            'w' => "delay",
            'u' => {
                opts.use_uuid = true;
                continue;
            }
            'd' => {
                opts.debug = true;
                continue;
            }
            'V' => {
                println!("fence_hactl_xvm {}", env!("CARGO_PKG_VERSION"));
                return Ok(false);
            }
            'h' | '?' => {
                println!("{USAGE}");
                return Ok(false);
            }
            other => {
                return Err(OptionError::Value {
                    name: format!("-{other}"),
                    value: String::new(),
                    why: format!("unknown option\n{USAGE}"),
                })
            }
        };
        // "-ostatus" or "-o status"
        let inline = &a[1 + flag.len_utf8()..];
        let value = if !inline.is_empty() {
            inline.to_string()
        } else if i < args.len() {
            i += 1;
            args[i - 1].clone()
        } else {
            return Err(OptionError::Value {
                name: format!("-{flag}"),
                value: String::new(),
                why: "needs a value".into(),
            });
        };
        opts.set(name, &value)?;
    }
    Ok(true)
}
