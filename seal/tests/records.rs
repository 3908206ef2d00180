//! `minutier/record/v1` vectors (vectors/records/) and the strictness of the
//! decoder; canonical metadata vectors.

use minutier_seal::hash::{from_hex, sha256, to_hex};
use minutier_seal::metadata;
use minutier_seal::record::{Record, RecordKind, Timestamp, MAX_RECORD_LEN};
use minutier_seal::Error;
use serde_json::Value;

const JSON: &str = include_str!("vectors/records/records.json");
const FILES: [(&str, &[u8]); 4] = [
    (
        "ingest-first.txt",
        include_bytes!("vectors/records/ingest-first.txt"),
    ),
    (
        "ingest-chained.txt",
        include_bytes!("vectors/records/ingest-chained.txt"),
    ),
    (
        "ingest-minimal.txt",
        include_bytes!("vectors/records/ingest-minimal.txt"),
    ),
    (
        "ingest-limits.txt",
        include_bytes!("vectors/records/ingest-limits.txt"),
    ),
];

fn vectors() -> Value {
    serde_json::from_str(JSON).unwrap()
}

fn file(name: &str) -> &'static [u8] {
    FILES.iter().find(|(n, _)| *n == name).unwrap().1
}

fn record_from_fields(f: &Value) -> Record {
    let s = |k: &str| f[k].as_str().unwrap();
    Record {
        kind: s("kind").parse().unwrap(),
        archive_id: s("archive").into(),
        time: s("time").parse().unwrap(),
        actor: s("actor").into(),
        content_sha256: from_hex(s("content_sha256")).unwrap(),
        size: f["size"].as_u64().unwrap(),
        metadata_sha256: from_hex(s("metadata_sha256")).unwrap(),
        previous: match s("previous") {
            "none" => None,
            h => Some(from_hex(h).unwrap()),
        },
    }
}

#[test]
fn vectors_encode_decode_and_hash() {
    let v = vectors();
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), FILES.len());
    for r in records {
        let name = r["file"].as_str().unwrap();
        let bytes = file(name);
        let expected = record_from_fields(&r["fields"]);
        expected.validate().unwrap();
        assert_eq!(expected.encode(), bytes, "{name}: encode");
        assert_eq!(
            Record::decode(bytes).as_ref(),
            Ok(&expected),
            "{name}: decode"
        );
        assert_eq!(
            to_hex(&expected.leaf_hash()),
            r["leaf_hash"].as_str().unwrap(),
            "{name}: leaf hash"
        );
    }
}

#[test]
fn chain_links_to_previous_leaf_hash() {
    let first = Record::decode(file("ingest-first.txt")).unwrap();
    let second = Record::decode(file("ingest-chained.txt")).unwrap();
    assert_eq!(first.previous, None);
    assert_eq!(first.archive_id, second.archive_id);
    assert_eq!(second.previous, Some(first.leaf_hash()));
}

#[test]
fn metadata_vectors() {
    let v = vectors();
    for m in v["metadata"].as_array().unwrap() {
        let canonical = metadata::canonical_json(&m["value"]);
        assert_eq!(
            std::str::from_utf8(&canonical).unwrap(),
            m["canonical"].as_str().unwrap()
        );
        assert_eq!(
            to_hex(&metadata::digest(&m["value"])),
            m["sha256"].as_str().unwrap()
        );
    }
    let first = Record::decode(file("ingest-first.txt")).unwrap();
    assert_eq!(
        to_hex(&first.metadata_sha256),
        v["metadata"][0]["sha256"].as_str().unwrap()
    );
    for (c, name) in v["content"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["ingest-first.txt", "ingest-chained.txt"])
    {
        let text = c["text"].as_str().unwrap().as_bytes();
        let r = Record::decode(file(name)).unwrap();
        assert_eq!(r.content_sha256, sha256(text));
        assert_eq!(r.size, text.len() as u64);
    }
}

/// Replaces the first occurrence of `from` in the valid first vector.
fn mutate(from: &str, to: &str) -> Vec<u8> {
    let s = std::str::from_utf8(file("ingest-first.txt")).unwrap();
    assert!(s.contains(from), "{from:?}");
    s.replacen(from, to, 1).into_bytes()
}

#[test]
fn invalid_encodings_are_rejected() {
    let good = file("ingest-first.txt");
    let text = std::str::from_utf8(good).unwrap();
    let chained = std::str::from_utf8(file("ingest-chained.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let swapped = {
        let mut l = lines.clone();
        l.swap(2, 3);
        format!("{}\n", l.join("\n"))
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong key order", swapped.into_bytes()),
        ("trailing space", mutate("size 48\n", "size 48 \n")),
        ("trailing space on header", mutate("v1\n", "v1 \n")),
        (
            "trailing space after hash",
            mutate("previous none\n", "previous none \n"),
        ),
        (
            "trailing space after actor",
            mutate("Exemple\n", "Exemple \n"),
        ),
        ("double space", mutate("kind ingest", "kind  ingest")),
        ("tab separator", mutate("kind ingest", "kind\tingest")),
        ("no separator", mutate("kind ingest", "kindingest")),
        ("CRLF", text.replace('\n', "\r\n").into_bytes()),
        ("CR", text.replace('\n', "\r").into_bytes()),
        ("uppercase hex", mutate("ba47b3c1", "BA47B3C1")),
        (
            "uppercase previous hex",
            chained.replacen("8be695b9", "8BE695B9", 1).into_bytes(),
        ),
        ("uppercase none", mutate("previous none", "previous NONE")),
        ("short hash", mutate("ba47b3c1", "ba47b3c")),
        ("long hash", mutate("ba47b3c1", "ba47b3c10")),
        ("leading zero", mutate("size 48", "size 048")),
        ("plus sign", mutate("size 48", "size +48")),
        (
            "size overflow",
            mutate("size 48", "size 18446744073709551616"),
        ),
        ("empty size", mutate("size 48", "size ")),
        ("missing final newline", good[..good.len() - 1].to_vec()),
        ("extra final newline", [good, b"\n"].concat()),
        (
            "blank line inside",
            mutate("kind ingest\n", "kind ingest\n\n"),
        ),
        (
            "duplicate key",
            mutate("previous none\n", "previous none\nprevious none\n"),
        ),
        (
            "duplicate earlier key",
            mutate("size 48\n", "kind ingest\n"),
        ),
        ("missing key", mutate("size 48\n", "")),
        ("missing last key", mutate("previous none\n", "")),
        (
            "extra key",
            mutate("previous none\n", "previous none\nnote hello\n"),
        ),
        ("unknown key", mutate("size 48", "length 48")),
        ("unknown kind", mutate("kind ingest", "kind elimination")),
        ("uppercase kind", mutate("kind ingest", "kind Ingest")),
        (
            "wrong header",
            mutate("minutier/record/v1", "minutier/record/v2"),
        ),
        (
            "no header",
            text.split_once('\n').unwrap().1.as_bytes().to_vec(),
        ),
        ("leading blank line", [b"\n", good].concat()),
        (
            "bad archive id",
            mutate("FRAD075-2026-000114", "FRAD075/2026"),
        ),
        (
            "empty archive id",
            mutate("archive FRAD075-2026-000114", "archive "),
        ),
        (
            "long archive id",
            mutate("FRAD075-2026-000114", &"a".repeat(129)),
        ),
        ("bad time", mutate("08:52:46.123Z", "08:52:46Z")),
        ("time offset", mutate("08:52:46.123Z", "08:52:46.123+01:00")),
        (
            "empty actor",
            mutate(
                "actor cn=Émilie Dupré,ou=Archives,o=Mairie d'Exemple",
                "actor ",
            ),
        ),
        ("leading space in actor", mutate("actor cn", "actor  cn")),
        ("control char in actor", mutate("Émilie", "\u{1b}milie")),
        ("C1 control in actor", mutate("Émilie", "\u{85}milie")),
        ("long actor", mutate("cn=Émilie", &"x".repeat(257))),
        (
            "invalid UTF-8",
            mutate("Émilie", "Emilie")
                .iter()
                .map(|&b| if b == b'E' { 0xff } else { b })
                .collect(),
        ),
        ("NUL", mutate("size 48", "size 48\0")),
        ("empty", Vec::new()),
        ("header only", b"minutier/record/v1\n".to_vec()),
    ];
    for (what, bytes) in &cases {
        let result = Record::decode(bytes);
        assert!(
            matches!(result, Err(Error::InvalidRecord { .. })),
            "{what}: {result:?}"
        );
    }
    assert!(Record::decode(good).is_ok());
}

#[test]
fn error_messages_point_at_the_problem() {
    let msg = |b: Vec<u8>| Record::decode(&b).unwrap_err().to_string();
    assert!(msg(mutate("size 48", "size 048")).contains("line 7"));
    assert!(msg(mutate("size 48", "size 048")).contains("leading zeros"));
    assert!(msg(mutate("ba47b3c1", "BA47B3C1")).contains("lowercase"));
    assert!(msg(mutate("previous none\n", "previous none\nprevious none\n")).contains("line 10"));
    assert!(msg(mutate("size 48\n", "kind ingest\n")).contains("duplicate key `kind`"));
    assert!(msg(mutate("kind ingest", "kind elimination")).contains("unknown record kind"));
    let good = file("ingest-first.txt");
    assert!(msg(good[..good.len() - 1].to_vec()).contains("newline"));
    let crlf = std::str::from_utf8(good).unwrap().replace('\n', "\r\n");
    assert!(msg(crlf.into_bytes()).contains("CRLF"));
}

#[test]
fn size_limit() {
    let r = Record {
        kind: RecordKind::Ingest,
        archive_id: "a".repeat(128),
        time: Timestamp::MAX,
        actor: "é".repeat(128),
        content_sha256: [0xff; 32],
        size: u64::MAX,
        metadata_sha256: [0xff; 32],
        previous: Some([0xff; 32]),
    };
    // The largest valid record is far below the limit.
    assert!(r.encode().len() < MAX_RECORD_LEN / 4);
    let mut huge = r.encode();
    huge.resize(MAX_RECORD_LEN + 1, b'a');
    assert!(Record::decode(&huge)
        .unwrap_err()
        .to_string()
        .contains("maximum"));
}

#[test]
fn validate_catches_what_encode_would_not() {
    let mut r = Record::decode(file("ingest-first.txt")).unwrap();
    r.validate().unwrap();
    r.archive_id = "a b".into();
    assert!(matches!(
        r.validate(),
        Err(Error::InvalidField {
            field: "archive",
            ..
        })
    ));
    assert!(Record::decode(&r.encode()).is_err());
    r.archive_id = "a".into();
    r.time = Timestamp(Timestamp::MAX.0 + 1);
    assert!(matches!(
        r.validate(),
        Err(Error::InvalidField { field: "time", .. })
    ));
    assert!(Record::decode(&r.encode()).is_err());
    r.time = Timestamp(0);
    r.actor = "line\nbreak".into();
    assert!(matches!(
        r.validate(),
        Err(Error::InvalidField { field: "actor", .. })
    ));
    assert!(Record::decode(&r.encode()).is_err());
}
