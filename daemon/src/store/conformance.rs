//! One suite, run on every [`Store`] implementation.

use minutier_seal::hash;

use super::*;
use crate::model::{
    BlobLocation, Credential, EliminationState, Metadata, Role, SignIn, SignInOutcome, Step,
};

fn entry(id: &str, agency: &str, title: &str, index: u64) -> ArchiveEntry {
    ArchiveEntry {
        archive_id: id.into(),
        metadata: Metadata {
            title: title.into(),
            originating_agency: agency.into(),
            ..Default::default()
        },
        metadata_sha256: hash::sha256(title.as_bytes()),
        content_sha256: hash::sha256(id.as_bytes()),
        size: 3,
        stored_size: 3,
        blob: BlobLocation::Inline,
        log_index: index,
        ingested_at: 1_700_000_000_000 + index,
        actor: "tester".into(),
        record_hash: hash::leaf_hash(id.as_bytes()),
        head_index: index,
        record_count: 1,
        elimination_id: None,
        eliminated_at: None,
    }
}

fn log_entry(index: u64, archive_id: &str, access: bool) -> LogEntry {
    LogEntry {
        index,
        record: format!("r{index}").into_bytes(),
        archive_id: archive_id.into(),
        access,
    }
}

fn order(id: &str, state: EliminationState) -> EliminationOrder {
    EliminationOrder {
        elimination_id: id.into(),
        state,
        reason: "fin de DUA".into(),
        archive_ids: vec!["a".into()],
        proposed: Step {
            actor: "Alice [archivist 01]".into(),
            name: "Alice".into(),
            at: 5,
        },
        decided: None,
        decision_reason: String::new(),
        executed: None,
        certificate: None,
    }
}

fn conformance(store: &dyn Store) {
    assert_eq!(store.log_state().unwrap(), LogState::default());
    store.set_origin("example.org/log").unwrap();

    let batch = CommitBatch {
        records: vec![log_entry(0, "a", false), log_entry(1, "b", false)],
        nodes: vec![(0, 0, [1; 32]), (0, 1, [2; 32]), (1, 0, [3; 32])],
        archives: vec![
            entry("a", "MAIRIE", "Budget 2024", 0),
            entry("b", "CCAS", "Procès-verbal", 1),
        ],
        inline_blobs: vec![([9; 32], b"abc".to_vec()), ([7; 32], b"gone".to_vec())],
        holders_added: vec![
            ([9; 32], "a".into()),
            ([9; 32], "b".into()),
            ([8; 32], "c".into()),
        ],
        documents: vec![([6; 32], b"{}".to_vec())],
        eliminations: vec![order("E1", EliminationState::Proposed)],
        tree_size: 2,
        checkpoint: "checkpoint two\n".into(),
        ..Default::default()
    };
    store.commit(batch).unwrap();

    let state = store.log_state().unwrap();
    assert_eq!(state.origin.as_deref(), Some("example.org/log"));
    assert_eq!(state.tree_size, 2);
    assert_eq!(state.checkpoint, Some((2, "checkpoint two\n".into())));
    assert_eq!(
        store.checkpoint(2).unwrap().as_deref(),
        Some("checkpoint two\n")
    );
    assert_eq!(store.checkpoint(1).unwrap(), None);

    assert_eq!(store.node(1, 0).unwrap(), Some([3; 32]));
    assert_eq!(store.node(1, 1).unwrap(), None);
    assert_eq!(
        store.records(0, 10).unwrap(),
        vec![(0, b"r0".to_vec()), (1, b"r1".to_vec())]
    );
    assert_eq!(store.records(1, 2).unwrap(), vec![(1, b"r1".to_vec())]);
    assert!(store.records(2, 5).unwrap().is_empty());
    assert_eq!(record(store, 1).unwrap(), b"r1");
    assert!(matches!(record(store, 7), Err(Error::NotFound(_))));

    assert_eq!(store.archive("b").unwrap().unwrap().log_index, 1);
    assert!(store.archive("zz").unwrap().is_none());
    let all = store
        .list_archives(None, 10, &ListFilter::default())
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|e| e.archive_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let after_a = store
        .list_archives(Some("a"), 10, &ListFilter::default())
        .unwrap();
    assert_eq!(after_a.len(), 1);
    assert_eq!(after_a[0].archive_id, "b");
    let filter = ListFilter {
        originating_agency: Some("MAIRIE".into()),
        title_contains: Some("budget".into()),
        ..ListFilter::default()
    };
    assert_eq!(store.list_archives(None, 10, &filter).unwrap().len(), 1);
    assert_eq!(
        store
            .list_archives(None, 1, &ListFilter::default())
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        store.inline_blob(&[9; 32]).unwrap().as_deref(),
        Some(&b"abc"[..])
    );
    assert!(store.has_inline_blob(&[9; 32]).unwrap());
    assert!(!store.has_inline_blob(&[8; 32]).unwrap());

    store
        .commit(CommitBatch {
            records: vec![log_entry(2, "a", true), log_entry(3, "b", false)],
            nodes: vec![(0, 2, [4; 32])],
            removed_inline_blobs: vec![[7; 32]],
            holders_removed: vec![([9; 32], "a".into())],
            eliminations: vec![
                order("E1", EliminationState::Approved),
                order("E0", EliminationState::Refused),
            ],
            tree_size: 3,
            checkpoint: "checkpoint three\n".into(),
            ..Default::default()
        })
        .unwrap();
    let state = store.log_state().unwrap();
    assert_eq!(state.tree_size, 3);
    assert_eq!(state.checkpoint.unwrap().0, 3);
    assert_eq!(
        store.checkpoint(2).unwrap().as_deref(),
        Some("checkpoint two\n")
    );

    // Chains, the journal, documents, holders and eliminations.
    assert_eq!(store.history("a").unwrap(), [0, 2]);
    assert_eq!(store.history("b").unwrap(), [1, 3]);
    assert!(store.history("").unwrap().is_empty());
    assert_eq!(store.journal(None, 10).unwrap(), [2]);
    assert!(store.journal(Some(2), 10).unwrap().is_empty());
    assert_eq!(store.journal(Some(1), 10).unwrap(), [2]);
    assert_eq!(
        store.document(&[6; 32]).unwrap().as_deref(),
        Some(&b"{}"[..])
    );
    assert_eq!(store.document(&[5; 32]).unwrap(), None);
    assert_eq!(store.inline_blob(&[7; 32]).unwrap(), None);
    assert_eq!(store.content_holders(&[9; 32]).unwrap(), ["b"]);
    assert_eq!(store.content_holders(&[8; 32]).unwrap(), ["c"]);
    assert!(store.content_holders(&[1; 32]).unwrap().is_empty());
    assert_eq!(
        store.elimination("E1").unwrap().unwrap().state,
        EliminationState::Approved
    );
    assert_eq!(store.elimination("E2").unwrap(), None);
    let ids: Vec<_> = store
        .eliminations()
        .unwrap()
        .into_iter()
        .map(|o| o.elimination_id)
        .collect();
    assert_eq!(ids, ["E0", "E1"]);

    let mut credential = Credential {
        serial: "0a1b".into(),
        name: "Marie Dupont".into(),
        role: Role::Archivist,
        agency: None,
        issued_at: 1,
        not_after: 2,
        issued_by: "admin".into(),
        revoked_at: None,
        revoked_by: None,
        login: None,
    };
    store
        .put_credentials(std::slice::from_ref(&credential))
        .unwrap();
    credential.revoked_at = Some(3);
    store
        .put_credentials(std::slice::from_ref(&credential))
        .unwrap();
    assert_eq!(store.credentials().unwrap(), vec![credential]);

    let sign_in = |at: u64, outcome: SignInOutcome| SignIn {
        at,
        login: "marie".into(),
        actor: String::new(),
        method: "password".into(),
        outcome,
        reason: String::new(),
        address: "192.0.2.7".into(),
    };
    assert!(store.sign_ins(None, 10).unwrap().is_empty());
    let numbers: Vec<u64> = [
        sign_in(1, SignInOutcome::Failed),
        sign_in(2, SignInOutcome::SignedIn),
        sign_in(3, SignInOutcome::SignedOut),
    ]
    .iter()
    .map(|e| store.put_sign_in(e).unwrap())
    .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]));
    let newest_first: Vec<u64> = store
        .sign_ins(None, 10)
        .unwrap()
        .iter()
        .map(|(_, e)| e.at)
        .collect();
    assert_eq!(newest_first, [3, 2, 1]);
    let page = store.sign_ins(Some(numbers[2]), 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], (numbers[1], sign_in(2, SignInOutcome::SignedIn)));
    assert!(store.sign_ins(Some(numbers[0]), 10).unwrap().is_empty());
}

#[test]
fn memory_store_conforms() {
    conformance(&MemoryStore::new());
}

#[test]
fn rocks_store_conforms_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStore::open(dir.path()).unwrap();
        conformance(&store);
    }
    let reopened = RocksStore::open(dir.path()).unwrap();
    let state = reopened.log_state().unwrap();
    assert_eq!(state.tree_size, 3);
    assert_eq!(state.checkpoint.unwrap().0, 3);
    assert_eq!(
        reopened.archive("a").unwrap().unwrap().metadata.title,
        "Budget 2024"
    );
    // The sign-in journal goes on where it stopped.
    let last = reopened.sign_ins(None, 1).unwrap()[0].0;
    let next = reopened
        .put_sign_in(&reopened.sign_ins(None, 1).unwrap()[0].1)
        .unwrap();
    assert_eq!(next, last + 1);
}

#[test]
fn rocks_store_opens_read_only_for_an_audit() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RocksStore::open(dir.path()).unwrap();
        conformance(&store);
    }
    let files = |p: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = files(dir.path());
    let store = RocksStore::open_read_only(dir.path()).unwrap();
    assert_eq!(store.log_state().unwrap().tree_size, 3);
    assert_eq!(store.records(0, 10).unwrap().len(), 4);
    assert_eq!(store.checkpoint_sizes().unwrap(), vec![2, 3]);
    let ids: Vec<_> = store
        .archive_entries(None, 10)
        .unwrap()
        .into_iter()
        .map(|(key, entry)| (key, entry.unwrap().archive_id))
        .collect();
    assert_eq!(
        ids,
        vec![
            (b"a".to_vec(), "a".to_owned()),
            (b"b".to_vec(), "b".to_owned())
        ]
    );
    let after_a = store.archive_entries(Some(b"a"), 10).unwrap();
    assert_eq!(after_a.len(), 1);
    assert_eq!(after_a[0].0, b"b");
    assert_eq!(store.archive_entries(None, 1).unwrap().len(), 1);
    assert!(
        store.set_origin("x").is_err(),
        "a read-only index refuses writes"
    );
    drop(store);
    assert_eq!(files(dir.path()), before, "nothing was created or removed");
    let missing = tempfile::tempdir().unwrap();
    assert!(RocksStore::open_read_only(missing.path()).is_err());
}
