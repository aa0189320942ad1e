use super::{read, Facts, Reading};

/// A successful `migrate_to` with no `migrate_from`, both nodes online, the
/// target's history known and older.
fn partial() -> Facts {
    Facts {
        failed: false,
        source_newer: false,
        from: None,
        target_known: true,
        target_newer: false,
        target_online: true,
        source_online: true,
    }
}

#[test]
fn a_failed_migrate_to_counts_the_resource_active_on_a_target_without_newer_state() {
    let f = Facts {
        failed: true,
        ..partial()
    };
    assert_eq!(read(&f), Reading::OnTarget { partial: false });
    let newer = Facts {
        failed: true,
        target_newer: true,
        ..partial()
    };
    assert_eq!(read(&newer), Reading::Nothing);
    let unknown = Facts {
        failed: true,
        target_known: false,
        ..partial()
    };
    assert_eq!(read(&unknown), Reading::Nothing);
}

#[test]
fn a_migrate_to_without_migrate_from_is_a_partial_migration_even_after_a_stop_on_the_source() {
    assert_eq!(read(&partial()), Reading::OnTarget { partial: true });
    let stopped_source = Facts {
        source_newer: true,
        ..partial()
    };
    assert_eq!(read(&stopped_source), Reading::OnTarget { partial: true });
    let both_newer = Facts {
        source_newer: true,
        target_newer: true,
        ..partial()
    };
    assert_eq!(read(&both_newer), Reading::Nothing);
}

#[test]
fn a_migrate_to_whose_target_moved_on_leaves_the_resource_failed() {
    let f = Facts {
        target_newer: true,
        ..partial()
    };
    assert_eq!(read(&f), Reading::Failed);
    let failed_from = Facts {
        from: Some(false),
        target_newer: true,
        ..partial()
    };
    assert_eq!(read(&failed_from), Reading::Failed);
}
