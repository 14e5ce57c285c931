//! Device accounts of a line, on the running switch: a DECT handset with its own SIP
//! username and password registers for line 105, rings when 105 is called, and
//! calls as 105.

use crate::common::call_helpers::*;
use crate::common::{temp_dir, Pbx};

#[test]
fn a_device_account_registers_rings_and_calls_as_its_line() {
    let dir = temp_dir();
    let mut pbx = Pbx::start(dir.path());
    // Added while the switch runs: found without a restart.
    pbx_admin(
        dir.path(),
        &[
            "device",
            "add",
            "--tenant",
            "demo",
            "--line",
            "105",
            "105-dect",
            "--password",
            "secret105-dect",
            "--name",
            "DECT handset",
        ],
    );
    let mut dect = Device::register(&pbx, "105-dect");
    let mut call = Caller::call(&pbx, "101", "105");
    let invite = dect.next_invite(&[]).expect("the handset rings for 105");
    dect.respond(&invite, 486, "Busy Here");
    assert_eq!(call.expect(486), 486);
    // The handset calls 106 with its own credentials, as line 105.
    let mut desk = Device::register(&pbx, "106");
    let mut out = Caller::call(&pbx, "105-dect", "106");
    let invite = desk.next_invite(&[]).expect("106 rings");
    let from = invite.from().unwrap();
    assert_eq!(from.uri.user_unescaped().as_deref(), Some("105"));
    desk.respond(&invite, 486, "Busy Here");
    assert_eq!(out.expect(486), 486);
    let rows = journal(&mut pbx);
    assert!(
        rows.iter().any(|r| r.from == "105" && r.to == "106"),
        "{rows:?}"
    );
}
