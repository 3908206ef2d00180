//! The Garage test harness itself: a real single node and a real
//! three-node cluster on loopback, driven through the harness's S3 client.

mod common;

use std::time::Instant;

use common::garage::{self, Garage};
use common::noise;

#[test]
fn s3_client_building_blocks() {
    garage::check_s3_client_building_blocks();
}

#[test]
fn single_node_put_list_get_delete() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let g = Garage::single(dir.path());
    eprintln!("single Garage node ready in {:?}", started.elapsed());

    assert!(g.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(g.endpoints(), vec![g.endpoint()]);
    assert_eq!(g.region(), "garage");
    assert!(g.access_key_id().starts_with("GK") && g.access_key_id().len() == 26);
    assert_eq!(g.secret_access_key().len(), 64);
    assert!(g.list_objects().is_empty());

    let big = noise(7, 3 << 20); // several Garage blocks
    g.put_object("records/2024/acte 1.pdf", &big);
    g.put_object("records/2024/é&<x>.txt", b"small");
    g.put_object("index", b"");
    assert_eq!(
        g.list_objects(),
        vec![
            ("index".to_owned(), 0),
            ("records/2024/acte 1.pdf".to_owned(), big.len() as u64),
            ("records/2024/é&<x>.txt".to_owned(), 5),
        ]
    );
    assert_eq!(g.list_objects_prefix("records/").len(), 2);
    assert_eq!(g.get_object("records/2024/acte 1.pdf"), big);
    assert_eq!(g.get_object("records/2024/é&<x>.txt"), b"small");
    assert_eq!(g.get_object("index"), b"");
    assert_eq!(g.try_get_object("missing"), None);

    // Tampering: an overwrite is visible, a delete removes it.
    g.put_object("index", b"tampered");
    assert_eq!(g.get_object("index"), b"tampered");
    g.delete_object("index");
    g.delete_object("never-there");
    assert_eq!(g.try_get_object("index"), None);
    assert_eq!(g.list_objects().len(), 2);

    // More keys than one ListObjectsV2 page (1000).
    for i in 0..1005 {
        g.put_object(&format!("many/{i:04}"), b"x");
    }
    assert_eq!(g.list_objects_prefix("many/").len(), 1005);

    let toml = g.replication_toml(&["age1example".to_owned(), "age1other".to_owned()]);
    assert!(toml.starts_with("[replication]\n"));
    assert!(toml.contains(&format!("endpoint = \"{}\"\n", g.endpoint())));
    assert!(toml.contains(&format!("bucket = \"{}\"\n", g.bucket())));
    assert!(toml.contains("region = \"garage\"\n"));
    assert!(toml.contains(&format!("access_key_id = \"{}\"\n", g.access_key_id())));
    assert!(toml.contains(&format!(
        "secret_access_key = \"{}\"\n",
        g.secret_access_key()
    )));
    assert!(toml.contains("escrow_recipients = [\"age1example\", \"age1other\"]\n"));

    // A restart keeps the data.
    let mut g = g;
    let stopping = Instant::now();
    g.stop_node(0);
    eprintln!("single node stopped (SIGTERM) in {:?}", stopping.elapsed());
    let restarted = Instant::now();
    g.start_node(0);
    eprintln!("single node answered again in {:?}", restarted.elapsed());
    assert_eq!(g.get_object("records/2024/acte 1.pdf"), big);
    g.stop();
}

#[test]
fn three_nodes_survive_one_down() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut g = Garage::cluster(dir.path(), 3);
    eprintln!("three-node Garage cluster ready in {:?}", started.elapsed());
    assert_eq!(g.endpoints().len(), 3);
    assert_eq!(g.endpoints()[0], g.endpoint());

    let doc = noise(11, 1 << 20);
    g.put_object("before", &doc);
    assert_eq!(g.get_object("before"), doc);

    g.kill_node(2);
    assert!(!g.is_running(2));
    // Replication factor 3, quorum 2: reads and writes go on.
    assert_eq!(g.get_object("before"), doc);
    g.put_object("during", b"written with a node down");
    assert_eq!(
        g.list_objects()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        ["before", "during"]
    );

    let restarted = Instant::now();
    g.start_node(2);
    eprintln!("node 2 answered again in {:?}", restarted.elapsed());
    assert!(g.is_running(2));
    assert_eq!(g.get_object("during"), b"written with a node down");

    // Another node down: still a quorum.
    g.kill_node(1);
    assert_eq!(g.get_object("during"), b"written with a node down");
    g.put_object("after", b"x");
    g.start_node(1);
    assert_eq!(g.list_objects().len(), 3);
    g.stop();
}
