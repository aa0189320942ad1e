//! Ticket constraints and ticket states survive import and export.

use hactl_cib_xml::{export, import};
use hactl_model::{LossPolicy, Role};

const XML: &str = r#"<cib><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes>
<resources><primitive id="a" class="ocf" provider="pacemaker" type="Dummy"/>
<primitive id="b" class="ocf" provider="pacemaker" type="Dummy"/></resources>
<constraints>
  <rsc_ticket id="a-T" rsc="a" rsc-role="Started" ticket="T" loss-policy="freeze"/>
  <rsc_ticket id="set-T" ticket="U"><resource_set id="s" role="Promoted"><resource_ref id="a"/><resource_ref id="b"/></resource_set></rsc_ticket>
</constraints></configuration>
<status><tickets><ticket_state id="T" granted="true" standby="true" last-granted="1700000000"/><ticket_state id="U" granted="false"/></tickets></status></cib>"#;

#[test]
fn tickets_import_and_round_trip() {
    let cib = import(XML).expect("imports");
    let t = &cib.config.constraints.tickets;
    assert_eq!(t.len(), 3, "{t:?}");
    assert_eq!(t[0].loss_policy, Some(LossPolicy::Freeze));
    assert_eq!(t[0].rsc_role, Some(Role::Started));
    assert_eq!(
        t[1..]
            .iter()
            .map(|x| (x.rsc.as_str(), x.ticket.as_str(), x.rsc_role))
            .collect::<Vec<_>>(),
        vec![
            ("a", "U", Some(Role::Promoted)),
            ("b", "U", Some(Role::Promoted))
        ]
    );
    let st = &cib.status.tickets;
    assert!(st["T"].granted && st["T"].standby);
    assert_eq!(st["T"].last_granted, Some(1_700_000_000));
    assert!(!st["U"].granted);
    assert_eq!(import(&export(&cib)).expect("re-imports"), cib);
}
