//! `pcmk_delay_base` makes a fencing wait before the device's agent runs — once per
//! operation, and not for `on` — with `testdata/agents/fence_fixture` as the agent
//! (it answers at once; the real fence_xvm path is the same code).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hactl_fence::device::FenceDevice;
use hactl_fence::topology::fence;

fn device(id: &str, delay_base: &str) -> FenceDevice {
    let agent = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/agents/fence_fixture");
    FenceDevice::new(
        id,
        &agent.display().to_string(),
        [
            ("mode", "echo"),
            ("pcmk_host_list", "n1 n2"),
            ("pcmk_delay_base", delay_base),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap()
}

#[tokio::test]
async fn the_first_device_waits_its_delay_before_fencing() {
    let devs: BTreeMap<String, FenceDevice> = [
        ("a".to_string(), device("a", "n1:2s;n2:0")),
        ("b".to_string(), device("b", "2s")),
    ]
    .into_iter()
    .collect();
    // n1 through device a: it waits 2 s, then the agent runs.
    let t = Instant::now();
    let r = fence("n1", "reboot", &[], &devs).await;
    assert!(r.ok, "{}", r.summary());
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    // n2: device a has no delay for n2 and succeeds first; b is never reached.
    let t = Instant::now();
    let r = fence("n2", "reboot", &[], &devs).await;
    assert!(r.ok, "{}", r.summary());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Powering on never waits.
    let t = Instant::now();
    let r = fence("n1", "on", &[], &devs).await;
    assert!(r.ok, "{}", r.summary());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
