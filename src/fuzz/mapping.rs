//! Record mapping: any record through any sink spec never panics, never targets the module's
//! own keys, and never puts record content into an error.

use super::{check, Gen};
use crate::sink::mapping::Mapper;
use crate::source::record::{entry_json, map_entry};
use crate::spec::args::Args;
use crate::spec::record::{HeaderLookup, Record};
use crate::spec::sink::{SinkSpec, SinkType};
use crate::spec::sink_parse::parse_sink_create;
use crate::spec::source_template::SourceTemplate;
use crate::store::keys::is_reserved;

fn spec(g: &mut Gen) -> SinkSpec {
    let sink_type = g.pick(&SinkType::ALL).name();
    let mut args: Vec<Vec<u8>> = vec![b"s".to_vec(), b"TOPICS".to_vec(), b"t".to_vec()];
    args.extend([b"TYPE".to_vec(), sink_type.as_bytes().to_vec()]);
    let key = *g.pick(&[
        "${topic}:${key}",
        "${key}",
        "${value.a}",
        "k:${value.user.id}",
        "${value}",
        "${offset}",
        "__kafka:${key}",
        "${key.a}:${header.h}",
        "${header.redis.ttl}",
    ]);
    // PUBLISH has no key: the same templates name its channel.
    let target = if sink_type == "PUBLISH" {
        "CHANNEL"
    } else {
        "KEY"
    };
    args.extend([target.as_bytes().to_vec(), key.as_bytes().to_vec()]);
    if matches!(sink_type, "LIST" | "SET" | "ZSET") && g.chance(50) {
        args.extend([b"MEMBER".to_vec(), b"${value.n}".to_vec()]);
    }
    if sink_type == "ZSET" && g.chance(50) {
        args.extend([b"SCORE".to_vec(), b"${value.n}".to_vec()]);
    }
    if matches!(sink_type, "HASH" | "JSON" | "STREAM") && g.chance(50) {
        let fields = *g.pick(&["a", "a?,n AS m", "user.id AS meta.id,b?", "x.0,y?"]);
        args.extend([b"FIELDS".to_vec(), fields.as_bytes().to_vec()]);
    }
    if matches!(sink_type, "HASH" | "JSON") && g.chance(30) {
        let update: &[u8] = if sink_type == "HASH" {
            b"REPLACE"
        } else {
            b"MERGE"
        };
        args.extend([b"UPDATE".to_vec(), update.to_vec()]);
    }
    if sink_type != "PUBLISH" && g.chance(30) {
        args.extend([b"TTL".to_vec(), b"60".to_vec()]);
    }
    if sink_type == "TIMESERIES" && g.chance(50) {
        let policy = g.pick(&crate::spec::sink::Duplicate::ALL).name();
        args.extend([b"ON-DUPLICATE".to_vec(), policy.as_bytes().to_vec()]);
    }
    parse_sink_create(Args::new(args)).expect("generated spec parses")
}

#[test]
fn any_record_maps_safely_through_any_sink() {
    check("mapping", |g| {
        let spec = spec(g);
        let mapper = Mapper::new(&spec);
        let key = if g.chance(20) {
            b"__kafka:bridges".to_vec()
        } else if g.chance(25) {
            format!("{{\"a\":{}}}", g.below(100)).into_bytes()
        } else {
            g.bytes(10)
        };
        // A recognisable payload: it must never show up in an error.
        let marker = format!("PAYLOAD{}MARK", g.next());
        let mut value = g.json_bytes(3);
        if g.chance(50) {
            value = format!("{{\"a\":\"{marker}\",\"n\":\"{marker}\"}}").into_bytes();
        } else if g.chance(30) {
            value = marker.clone().into_bytes();
        }
        let ttl = g.arg();
        let header_value = if g.chance(30) {
            marker.clone().into_bytes()
        } else {
            g.bytes(6)
        };
        let headers: Vec<(&str, Option<&[u8]>)> = vec![
            ("h", g.chance(80).then_some(header_value.as_slice())),
            ("redis.ttl", Some(ttl.as_slice())),
        ];
        let record = Record {
            topic: "t",
            partition: 0,
            offset: g.below(1_000_000) as i64,
            timestamp: g.chance(90).then(|| g.below(1 << 40) as i64),
            key: g.chance(90).then_some(key.as_slice()),
            value: g.chance(85).then_some(value.as_slice()),
            ttl_header: g.chance(10).then_some(ttl.as_slice()),
            headers: g.chance(50).then_some(&headers as &dyn HeaderLookup),
        };
        match mapper.map(&record) {
            Ok(mapped) => {
                assert!(!mapped.write.key().is_some_and(is_reserved));
                let args = mapped
                    .write
                    .command()
                    .map_or(0, |(_, a)| a.iter().map(|x| x.len()).sum::<usize>());
                assert_eq!(args, mapped.bytes);
            }
            Err(error) => assert!(!error.contains(&marker), "payload in error: {error}"),
        }
    });
}

#[test]
fn any_stream_entry_becomes_a_json_object_of_strings() {
    let topic = SourceTemplate::parse("${stream}").expect("template");
    let key = SourceTemplate::parse("${field.f}").expect("template");
    check("entry", |g| {
        let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..g.below(6))
            .map(|_| (g.text_bytes(6), g.bytes(12)))
            .collect();
        let json = entry_json(&fields).expect("entry JSON");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        let object = value.as_object().expect("an object");
        assert!(object.values().all(serde_json::Value::is_string));
        let _ = map_entry(&topic, &key, &g.bytes(8), b"1-1", &fields);
    });
}
