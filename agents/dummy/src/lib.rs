//! `Dummy`: an OCF resource agent that manages nothing but a state file, for tests.
//!
//! It runs two ways with the same code: as the executable `hactl-dummy` (installed or
//! linked as `<OCF_ROOT>/resource.d/hactl/Dummy`, driven by `OCF_RESKEY_*` variables
//! like any OCF agent), and in-process through [`run`], which the executor calls for
//! `ocf:hactl:Dummy`.
//!
//! Knobs (all optional parameters):
//! - `state`: the state file (default `$HA_RSCTMP/hactl-Dummy-<instance>.state`).
//!   `start` creates it, `stop` removes it, `monitor` reports 0 when it exists, 7
//!   otherwise — so deleting it makes the next monitor fail, as if the service died.
//! - `fail_start=true`: start returns 1 (generic error) with an exit reason.
//! - `fail_monitor=true`, or `fail_monitor_file=PATH` that exists: monitor returns 1.
//! - `op_sleep=SECONDS` (fractions allowed): every action but meta-data sleeps first,
//!   for timeout and serialisation tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// OCF exit codes used here.
pub const OCF_SUCCESS: i32 = 0;
pub const OCF_ERR_GENERIC: i32 = 1;
pub const OCF_ERR_ARGS: i32 = 2;
pub const OCF_ERR_UNIMPLEMENTED: i32 = 3;
pub const OCF_ERR_CONFIGURED: i32 = 6;
pub const OCF_NOT_RUNNING: i32 = 7;

/// Result of one action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rc: i32,
    /// Text an OCF agent would print as `ocf-exit-reason:`.
    pub exit_reason: Option<String>,
    /// stdout of the action (meta-data XML).
    pub output: String,
}

impl Outcome {
    fn rc(rc: i32) -> Self {
        Outcome {
            rc,
            exit_reason: None,
            output: String::new(),
        }
    }
    fn fail(rc: i32, reason: impl Into<String>) -> Self {
        Outcome {
            rc,
            exit_reason: Some(reason.into()),
            output: String::new(),
        }
    }
}

pub fn meta_data() -> &'static str {
    r#"<?xml version="1.0"?>
<resource-agent name="Dummy" version="0.1">
<version>1.1</version>
<longdesc lang="en">A test resource that manages only a state file. Knobs make start or monitor fail and make every action sleep, to test failure handling, timeouts and operation serialisation.</longdesc>
<shortdesc lang="en">Test resource (state file only)</shortdesc>
<parameters>
<parameter name="state" unique="1" required="0">
<longdesc lang="en">Location of the state file. Default: $HA_RSCTMP/hactl-Dummy-INSTANCE.state</longdesc>
<shortdesc lang="en">State file</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="fail_start" required="0">
<longdesc lang="en">If true, start fails with a generic error.</longdesc>
<shortdesc lang="en">Fail start</shortdesc>
<content type="boolean" default="false"/>
</parameter>
<parameter name="fail_monitor" required="0">
<longdesc lang="en">If true, monitor fails with a generic error.</longdesc>
<shortdesc lang="en">Fail monitor</shortdesc>
<content type="boolean" default="false"/>
</parameter>
<parameter name="fail_monitor_file" required="0">
<longdesc lang="en">If this file exists, monitor fails with a generic error.</longdesc>
<shortdesc lang="en">Fail monitor while a file exists</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="op_sleep" required="0">
<longdesc lang="en">Seconds (fractions allowed) every action but meta-data sleeps before it runs.</longdesc>
<shortdesc lang="en">Sleep per action</shortdesc>
<content type="string" default="0"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="20s"/>
</actions>
</resource-agent>
"#
}

fn truthy(v: Option<&String>) -> bool {
    matches!(
        v.map(|s| s.to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes" | "on" | "y")
    )
}

fn state_path(instance: &str, params: &HashMap<String, String>, rsctmp: &Path) -> PathBuf {
    match params.get("state") {
        Some(s) if !s.is_empty() => PathBuf::from(s),
        _ => rsctmp.join(format!("hactl-Dummy-{instance}.state")),
    }
}

/// Parses `op_sleep`; `Err` names the bad value.
fn op_sleep(params: &HashMap<String, String>) -> Result<Duration, String> {
    match params.get("op_sleep") {
        None => Ok(Duration::ZERO),
        Some(s) if s.is_empty() => Ok(Duration::ZERO),
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v)),
            _ => Err(format!("op_sleep: '{s}' is not a number of seconds")),
        },
    }
}

/// Checks every parameter (what validate-all and start refuse with rc 6); the one
/// place both the executable and the in-process form use.
pub fn validate(params: &HashMap<String, String>) -> Result<(), String> {
    op_sleep(params)?;
    for name in ["fail_start", "fail_monitor"] {
        if let Some(v) = params.get(name).filter(|v| !v.is_empty()) {
            let known = [
                "1", "0", "true", "false", "yes", "no", "on", "off", "y", "n",
            ];
            if !known.contains(&v.to_ascii_lowercase().as_str()) {
                return Err(format!("{name}: '{v}' is not a boolean (true or false)"));
            }
        }
    }
    Ok(())
}

/// Runs one action. `rsctmp` is the agent's scratch directory (`HA_RSCTMP`).
///
/// Stop and monitor never fail because of parameters (OCF: stopping what is not
/// running succeeds whatever its parameters; a failed stop gets a node fenced): with
/// parameters that do not validate, stop skips the sleep and removes the state file,
/// monitor says "not running" unless the resource is running.
pub fn run(
    action: &str,
    instance: &str,
    params: &HashMap<String, String>,
    rsctmp: &Path,
) -> Outcome {
    if action == "meta-data" {
        return Outcome {
            rc: OCF_SUCCESS,
            exit_reason: None,
            output: meta_data().to_string(),
        };
    }
    let checked = validate(params);
    let sleep = op_sleep(params).unwrap_or(Duration::ZERO);
    if !sleep.is_zero() {
        std::thread::sleep(sleep);
    }
    let state = state_path(instance, params, rsctmp);
    let running = state.exists();
    match action {
        "validate-all" => match checked {
            Err(e) => Outcome::fail(OCF_ERR_CONFIGURED, e),
            Ok(()) => match state.parent() {
                Some(dir) if dir.as_os_str().is_empty() || dir.is_dir() => Outcome::rc(OCF_SUCCESS),
                // This node's problem (another may have the directory): "invalid
                // argument", as heartbeat's Dummy says, not "not configured".
                _ => Outcome::fail(
                    OCF_ERR_ARGS,
                    format!("state: directory of {} does not exist", state.display()),
                ),
            },
        },
        "start" => {
            if let Err(e) = checked {
                return Outcome::fail(OCF_ERR_CONFIGURED, e);
            }
            if truthy(params.get("fail_start")) {
                return Outcome::fail(OCF_ERR_GENERIC, "start failed on purpose (fail_start)");
            }
            match std::fs::write(&state, b"running\n") {
                Ok(()) => Outcome::rc(OCF_SUCCESS),
                Err(e) => Outcome::fail(
                    OCF_ERR_GENERIC,
                    format!("cannot write state file {}: {e}", state.display()),
                ),
            }
        }
        "stop" => match std::fs::remove_file(&state) {
            Ok(()) => Outcome::rc(OCF_SUCCESS),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::rc(OCF_SUCCESS),
            Err(e) => Outcome::fail(
                OCF_ERR_GENERIC,
                format!("cannot remove state file {}: {e}", state.display()),
            ),
        },
        "monitor" | "status" => {
            if !running {
                return Outcome::rc(OCF_NOT_RUNNING);
            }
            if let Err(e) = checked {
                return Outcome::fail(OCF_ERR_CONFIGURED, e);
            }
            let fail_file = params.get("fail_monitor_file").filter(|s| !s.is_empty());
            if truthy(params.get("fail_monitor"))
                || fail_file.is_some_and(|f| Path::new(f).exists())
            {
                return Outcome::fail(OCF_ERR_GENERIC, "monitor failed on purpose");
            }
            Outcome::rc(OCF_SUCCESS)
        }
        _ => Outcome::fail(
            OCF_ERR_UNIMPLEMENTED,
            format!("action '{action}' is not implemented"),
        ),
    }
}

/// Entry point of the executable form: action from argv, parameters from the OCF
/// environment. Returns the exit code.
pub fn ocf_main(args: &[String]) -> i32 {
    let Some(action) = args.get(1) else {
        eprintln!("usage: {} ACTION", args.first().map_or("Dummy", |s| s));
        return OCF_ERR_ARGS;
    };
    let params: HashMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("OCF_RESKEY_")
                .filter(|k| !k.starts_with("CRM_meta_"))
                .map(|k| (k.to_string(), v))
        })
        .collect();
    let instance = std::env::var("OCF_RESOURCE_INSTANCE").unwrap_or_else(|_| "Dummy".into());
    let rsctmp = std::env::var("HA_RSCTMP").unwrap_or_else(|_| "/run/resource-agents".into());
    let out = run(action, &instance, &params, Path::new(&rsctmp));
    print!("{}", out.output);
    if let Some(r) = &out.exit_reason {
        eprintln!("ocf-exit-reason:{r}");
    }
    out.rc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_knobs() {
        let dir = tempfile_dir("lifecycle");
        let mut p = HashMap::new();
        assert_eq!(run("monitor", "d", &p, &dir).rc, OCF_NOT_RUNNING);
        assert_eq!(run("start", "d", &p, &dir).rc, OCF_SUCCESS);
        assert_eq!(run("monitor", "d", &p, &dir).rc, OCF_SUCCESS);
        let flag = dir.join("fail");
        p.insert("fail_monitor_file".into(), flag.display().to_string());
        assert_eq!(run("monitor", "d", &p, &dir).rc, OCF_SUCCESS);
        std::fs::write(&flag, b"").unwrap();
        let m = run("monitor", "d", &p, &dir);
        assert_eq!(m.rc, OCF_ERR_GENERIC);
        assert!(m.exit_reason.is_some());
        assert_eq!(run("stop", "d", &p, &dir).rc, OCF_SUCCESS);
        assert_eq!(run("stop", "d", &p, &dir).rc, OCF_SUCCESS);
        assert_eq!(run("monitor", "d", &p, &dir).rc, OCF_NOT_RUNNING);
        p.insert("fail_start".into(), "true".into());
        assert_eq!(run("start", "d", &p, &dir).rc, OCF_ERR_GENERIC);
        p.insert("op_sleep".into(), "soon".into());
        let bad = run("start", "d", &p, &dir);
        assert_eq!(bad.rc, OCF_ERR_CONFIGURED);
        assert!(bad.exit_reason.unwrap().contains("op_sleep"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A typo must not fail a stop (a failed stop gets the node fenced) nor a probe:
    /// stop succeeds and monitor says "not running" whatever the parameters; start
    /// and validate-all refuse them with rc 6 and the parameter's name.
    #[test]
    fn invalid_parameters_never_fail_stop_or_probe() {
        let dir = tempfile_dir("invalid");
        for (k, v) in [("op_sleep", "soon"), ("fail_start", "maybe")] {
            let p = HashMap::from([(k.to_string(), v.to_string())]);
            for action in ["validate-all", "start"] {
                let r = run(action, "bad", &p, &dir);
                assert_eq!(r.rc, OCF_ERR_CONFIGURED, "{action} {k}={v}");
                assert!(r.exit_reason.unwrap().contains(k), "{action} {k}={v}");
            }
            assert_eq!(
                run("monitor", "bad", &p, &dir).rc,
                OCF_NOT_RUNNING,
                "{k}={v}"
            );
            assert_eq!(run("stop", "bad", &p, &dir).rc, OCF_SUCCESS, "{k}={v}");
            // Running (started with good parameters), then the parameters went bad:
            // monitor reports the configuration error, stop still stops it.
            assert_eq!(run("start", "bad", &HashMap::new(), &dir).rc, OCF_SUCCESS);
            assert_eq!(run("monitor", "bad", &p, &dir).rc, OCF_ERR_CONFIGURED);
            assert_eq!(run("stop", "bad", &p, &dir).rc, OCF_SUCCESS);
            assert_eq!(run("monitor", "bad", &p, &dir).rc, OCF_NOT_RUNNING);
        }
        assert_eq!(run("frobnicate", "x", &HashMap::new(), &dir).rc, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("hactl-dummy-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
