//! KAFKA.PRODUCE <topic> <value> [KEY <key>] [BROKERS ...] [HEADER <k> <v>]...
//! Blocks only the calling client until Kafka acknowledges; replies [partition, offset].

use crate::commands::{command_args, error};
use crate::kafka::brokers;
use crate::kafka::produce_pool;
use crate::module::acl;
use crate::runtime::blocked::Blocked;
use crate::settings;
use crate::spec::args::check_kafka_name;
use crate::spec::options::parse_brokers;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use redis_module::{Context, ContextFlags, RedisResult, RedisString, RedisValue};

pub fn produce(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let mut args = command_args(args);
    let topic = args.next_str("topic")?;
    check_kafka_name("topic", &topic, 249)?;
    let value = args.next_bytes("value")?;
    let mut key = None;
    let mut explicit_brokers = None;
    let mut partition = None;
    let mut headers = OwnedHeaders::new();
    while let Some(option) = args.next_keyword() {
        match option.as_str() {
            "KEY" => key = Some(args.next_bytes("value for KEY")?),
            "BROKERS" => {
                explicit_brokers = Some(parse_brokers(&args.next_str("value for BROKERS")?)?)
            }
            "PARTITION" => {
                let text = args.next_str("value for PARTITION")?;
                let number = text
                    .parse::<i32>()
                    .ok()
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| {
                        error(format!("PARTITION must be a number >= 0, got '{text}'"))
                    })?;
                partition = Some(number);
            }
            "HEADER" => {
                let name = args.next_str("header name for HEADER")?;
                let header_value = args.next_bytes(&format!("value for HEADER {name}"))?;
                headers = headers.insert(Header {
                    key: &name,
                    value: Some(&header_value),
                });
            }
            other => return Err(error(format!("unknown option '{other}'"))),
        }
    }
    if ctx
        .get_flags()
        .intersects(ContextFlags::MULTI | ContextFlags::LUA)
    {
        return Err(error("KAFKA.PRODUCE cannot run inside MULTI or a script"));
    }
    if explicit_brokers.is_some() {
        // Choosing where Redis connects is an admin's call, whatever the command's category.
        acl::check_admin(ctx, "KAFKA.PRODUCE ... BROKERS")?;
    }
    let resolved = brokers::resolve(explicit_brokers.as_deref())?;
    let producer = produce_pool::producer_for(&resolved.brokers, settings::produce_config()?)?;
    let blocked = Blocked::block(ctx).ok_or_else(|| error("this client cannot be blocked"))?;
    let mut record = BaseRecord::with_opaque_to(&topic, Box::new(blocked))
        .payload(&value)
        .headers(headers);
    if let Some(key) = &key {
        record = record.key(key);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    if let Err((e, record)) = producer.send(record) {
        record
            .delivery_opaque
            .answer(Err(error(format!("Kafka refused the record: {e}"))));
    }
    Ok(RedisValue::NoReply)
}
